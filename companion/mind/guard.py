"""The guard between the language model and the speaker.

The model's text is held back one clause at a time — the same unit the voice starts on, so speech is not
delayed — and each clause is checked against dialogs/<lang>/guard.toml before it is let through. A clause
that claims to be human, gives medical advice or promises something on behalf of other people is replaced
by a fixed line, and the model's stream is closed: nothing after it is spoken.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from companion.content import read_toml_file
from companion.errors import SettingsError
from companion.mind.lexicon import normalise, whole_words

CHECKS = ("claims_human", "medical_advice", "money_legal_advice", "promises")
_CLAUSE_END = re.compile(r"[.!?;:,](?=\s)|\n")
_SENTENCE_END = re.compile(r"[.!?\n]\s*$")


@dataclass(frozen=True)
class Verdict:
    """Why a clause was stopped: one of CHECKS."""

    reason: str


@dataclass(frozen=True)
class Guard:
    checks: tuple[tuple[str, re.Pattern[str]], ...]

    def judge(self, clause: str) -> Verdict | None:
        text = normalise(clause)
        for reason, pattern in self.checks:
            if pattern.search(text):
                return Verdict(reason)
        return None

    def filter(self, pieces: Iterator[str]) -> Iterator[str | Verdict]:
        """Pass the model's pieces on clause by clause; on a bad clause yield its Verdict and stop.

        The model's stream is closed before the Verdict is yielded, so the model has finished its turn
        (and kept it in its history) by the time the caller replaces what it said."""
        held = ""
        sentence = ""  # the clauses of the sentence under way, already spoken: "Jeg er, ligesom dig, …"
        verdict: Verdict | None = None
        try:
            for piece in pieces:
                held += piece
                while verdict is None and (end := _CLAUSE_END.search(held)) is not None:
                    # The space that proves the clause ended goes with it: the chunker after the guard
                    # needs it to cut, and would otherwise wait for the whole next clause to see it.
                    cut = end.end() + 1 if held[end.end() : end.end() + 1].isspace() else end.end()
                    clause, held = held[:cut], held[cut:]
                    verdict = self.judge(sentence + clause)
                    if verdict is None:
                        sentence = "" if _SENTENCE_END.search(clause) else sentence + clause
                        yield clause
                if verdict is not None:
                    break
            if verdict is None and held:
                verdict = self.judge(sentence + held)
                if verdict is None:
                    yield held
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # stops the model generating words nobody will hear
        if verdict is not None:
            yield verdict


def load_guard(dialogs: Path, languages: Sequence[str], relatives: Sequence[str]) -> Guard:
    """The checks of every language given: a small model may drift into English mid-conversation."""
    names = "|".join(re.escape(name.lower()) for name in relatives if name.strip()) or "(?!x)x"
    alternatives: dict[str, list[str]] = {reason: [] for reason in CHECKS}
    for language in languages:
        path = dialogs / language / "guard.toml"
        raw = read_toml_file(path)
        for reason in CHECKS:
            if not raw.get(reason):
                raise SettingsError(f"{path}: '{reason}' has no patterns.", "Add a list of patterns.")
            alternatives[reason] += [str(p).replace("{relatives}", names) for p in raw[reason]]
    checks = []
    for reason, patterns in alternatives.items():
        try:
            pattern = whole_words(patterns)
        except re.error as error:
            raise SettingsError(f"A guard pattern of '{reason}' is not valid: {error}") from error
        checks.append((reason, pattern))
    return Guard(tuple(checks))
