"""`companion eval-dialog FILE… [--llm none|dev]`: play scenario files against the real dialog policy.

The format is ../shared/scenarios/README.md's: each file has its own clock (`now`, Copenhagen wall time),
language, group catalogue and relatives. Every scenario starts from a fresh memory (nothing on disk) and
passes when the acts of the reply to its last turn include every `expect` outcome and no `forbid` one.
One addition of ours: `unsure = [1, 3]` lists the turns (counted from 1) the recogniser heard unsurely, as
its own scores would say (mind/hearing.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from companion.content import read_toml_file
from companion.errors import SettingsError
from companion.events import Event, ReplyDelta, ReplyDone, Transcript
from companion.mind.build import assemble_mind
from companion.mind.catalogue import COPENHAGEN, parse_catalogue
from companion.mind.memory import Conversation, MemoryStore
from companion.mind.policy import SmallTalk
from companion.mind.replies import outcome


@dataclass(frozen=True)
class Scenario:
    id: str
    say: tuple[str, ...]
    expect: frozenset[str]
    forbid: frozenset[str]
    unsure: frozenset[int] = frozenset()
    """Turns (from 1) heard unsurely."""


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    outcomes: frozenset[str]
    reply: str

    @property
    def missing(self) -> set[str]:
        return set(self.scenario.expect - self.outcomes)

    @property
    def forbidden(self) -> set[str]:
        return set(self.scenario.forbid & self.outcomes)

    @property
    def passed(self) -> bool:
        return not self.missing and not self.forbidden


def _scenarios(raw: dict[str, Any], where: str) -> list[Scenario]:
    found = []
    for entry in raw.get("scenario", ()):
        if "id" not in entry or not isinstance(entry.get("say"), list) or not entry["say"]:
            raise SettingsError(f"{where}: every [[scenario]] needs an id and a non-empty `say` list.")
        found.append(
            Scenario(
                id=str(entry["id"]),
                say=tuple(str(s) for s in entry["say"]),
                expect=frozenset(str(e) for e in entry.get("expect", ())),
                forbid=frozenset(str(f) for f in entry.get("forbid", ())),
                unsure=frozenset(int(n) for n in entry.get("unsure", ())),
            )
        )
    return found


ChatFor = Callable[[str], SmallTalk | None]
"""The language model to use for a file's language, or None for `--llm none`."""


def play_file(path: Path, dialogs: Path, chat_for: ChatFor) -> Iterator[Result]:
    raw = read_toml_file(path, fix="Check the path.")
    try:
        now = datetime.fromisoformat(str(raw["now"])).replace(tzinfo=COPENHAGEN)
        language = str(raw["language"])
    except (KeyError, ValueError) as error:
        raise SettingsError(
            f"{path}: `now` (ISO local time) and `language` are required ({error})."
        ) from error
    catalogue = parse_catalogue(raw, str(path))
    chat = chat_for(language)
    first = assemble_mind(dialogs, language, catalogue, MemoryStore(), lambda: now, chat=chat)
    for scenario in _scenarios(raw, str(path)):
        if chat is not None:
            chat.forget()
        # The same rules and catalogue, a fresh memory: every scenario starts from a first meeting.
        mind = replace(first, store=MemoryStore(), conversation=Conversation(), _state=None)
        yield play(mind.respond, scenario, language)


def play(respond: Callable[[Transcript], Iterable[Event]], scenario: Scenario, language: str) -> Result:
    outcomes: frozenset[str] = frozenset()
    reply = ""
    for number, line in enumerate(scenario.say, 1):
        reply = ""
        for event in respond(Transcript(line, language, sure=number not in scenario.unsure)):
            if isinstance(event, ReplyDelta):
                reply += event.text
            elif isinstance(event, ReplyDone):
                outcomes = frozenset(outcome(a) for a in event.acts)
    return Result(scenario, outcomes, reply.strip())


def report(results: Iterable[Result], out: TextIO, verbose: bool = False) -> tuple[int, int]:
    passed = failed = 0
    for result in results:
        if result.passed:
            passed += 1
            if verbose:
                print(f"PASS {result.scenario.id}", file=out)
            continue
        failed += 1
        reasons = []
        if result.missing:
            reasons.append(f"missing {', '.join(sorted(result.missing))}")
        if result.forbidden:
            reasons.append(f"forbidden {', '.join(sorted(result.forbidden))}")
        got = ", ".join(sorted(result.outcomes)) or "nothing"
        print(
            f"FAIL {result.scenario.id}: {'; '.join(reasons)} (got {got}) — said: {result.reply!r}", file=out
        )
    print(f"{passed} passed, {failed} failed", file=out)
    return passed, failed


def run_files(paths: Sequence[Path], dialogs: Path, chat_for: ChatFor, out: TextIO, verbose: bool) -> int:
    """Exit status: 0 when every scenario passed, 1 otherwise."""

    def every_result() -> Iterator[Result]:
        for path in paths:
            yield from play_file(path, dialogs, chat_for)

    _, failed = report(every_result(), out, verbose)
    return 1 if failed else 0
