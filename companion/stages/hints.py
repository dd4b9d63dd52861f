"""What the recogniser is nudged to hear: the names of this household's world — its relatives, the groups
on offer and where they meet — and a few phrases the companion listens for (dialogs/<lang>/hearing.toml).

Whisper is told them as "hotwords" (a prompt before the audio). Names are what it gets wrong most (tiny.en
hears "Birthe" as "where the", "Mette" as "Matt"; `companion eval-asr --no-hints` shows the difference on a
household's own recordings), so they come first, and the whole stays well inside the prompt's half of
Whisper's window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from companion.content import read_toml_file
from companion.mind.catalogue import Group, Relative
from companion.store.household import members
from companion.store.schema import DEVICE_HOUSEHOLD

MOST_CHARACTERS = 400
"""About 120 tokens: Whisper keeps at most 223 for a prompt, and a long one slows every turn."""


def hearing_hints(names: Iterable[str], groups: Iterable[Group], phrases: Iterable[str] = ()) -> str:
    """Names, then groups and their places, then phrases: each once, comma-separated, cut at a whole entry."""
    entries: list[str] = []
    seen: set[str] = set()
    groups = list(groups)
    for entry in [
        *names,
        *(group.name for group in groups),
        *(group.place.split(",")[0] for group in groups if group.format == "physical"),
        *phrases,
    ]:
        entry = " ".join(entry.split())
        if entry and entry.lower() not in seen:
            seen.add(entry.lower())
            entries.append(entry)
    hints = ""
    for entry in entries:
        longer = f"{hints}, {entry}" if hints else entry
        if len(longer) > MOST_CHARACTERS:
            break
        hints = longer
    return hints


def household_hints(
    engine: Engine, relatives: Iterable[Relative], groups: Iterable[Group], phrases: Iterable[str]
) -> str:
    """The hints of this device now: the relatives in the settings and those paired on the web page."""
    names = [*(relative.name for relative in relatives), *(m.name for m in members(engine, DEVICE_HOUSEHOLD))]
    return hearing_hints(names, groups, phrases)


def listened_phrases(dialogs: Path, language: str) -> tuple[str, ...]:
    path = dialogs / language / "hearing.toml"
    if not path.is_file():
        return ()
    return tuple(str(phrase) for phrase in read_toml_file(path).get("phrases", []))


class HintsKeeper:
    """A scheduler chore: the hints of the moment (a relative just paired, a group just added) given to the
    recogniser, which reads them at its next turn."""

    def __init__(self, make: Callable[[], str], give: Callable[[str], None]) -> None:
        self.make = make
        self.give = give
        self.hints = make()
        give(self.hints)

    def __call__(self, _now: datetime) -> None:
        hints = self.make()
        if hints != self.hints:
            self.hints = hints
            self.give(hints)
