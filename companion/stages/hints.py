"""What the recogniser is nudged to hear: the names of the household's relatives — in the settings, and
those paired on the web page.

Whisper is told them as "hotwords" (a prompt before the audio). Names are what it gets wrong most (tiny.en
hears "Birthe" as "where the", "Mette" as "Matt") and what no model was trained on. Measured
(benchmarks/ASR.md): with the names, the dev model heard 3 or 4 of 4 names right instead of 0. A fuller list —
the catalogue's groups and places, phrases the policy listens for — showed no steady gain on the whole set
(its word error rate moved by a few points either way between runs) and lengthens every turn's prompt, so
the device gives names only; the policy matches group names tolerantly itself (mind/lexicon.py).
`companion eval-asr --no-hints` shows the difference on real recordings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Engine

from companion.mind.catalogue import Relative
from companion.store.household import members
from companion.store.schema import DEVICE_HOUSEHOLD

MOST_CHARACTERS = 200
"""About 60 tokens: far inside the 223 Whisper keeps for a prompt (a long one slows every turn)."""


def hearing_hints(names: Iterable[str]) -> str:
    """The names, each once, comma-separated, cut at a whole name."""
    entries: list[str] = []
    seen: set[str] = set()
    for entry in names:
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


def household_hints(engine: Engine, relatives: Iterable[Relative]) -> str:
    """The hints of this device now: the relatives in the settings and those paired on the web page."""
    return hearing_hints([*(r.name for r in relatives), *(m.name for m in members(engine, DEVICE_HOUSEHOLD))])


class HintsKeeper:
    """A scheduler chore: the hints of the moment (a relative just paired) given to the recogniser, which
    reads them at its next turn."""

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
