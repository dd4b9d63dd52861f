"""Minds for tests: the real policy with the shipped dialogs, a clock that stands still, memory in RAM."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from companion.mind.build import assemble_mind, load_catalogue
from companion.mind.catalogue import COPENHAGEN, Catalogue, Relative
from companion.mind.memory import MemoryStore, StateStore
from companion.mind.policy import Mind, SmallTalk, VoiceTuning
from companion.mind.replies import outcome
from companion.reminders.book import Reminder

DIALOGS = Path(__file__).parent.parent / "dialogs"
# A Monday morning in March: the shipped catalogues' groups meet later that week.
MONDAY_MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=COPENHAGEN)


class Clock:
    """Stands still until a test moves it."""

    def __init__(self, now: datetime = MONDAY_MORNING) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_mind(
    language: str = "da",
    *,
    chat: SmallTalk | None = None,
    store: StateStore | None = None,
    clock: Clock | None = None,
    voice: VoiceTuning | None = None,
    relatives: tuple[Relative, ...] = (Relative("Anne", "datter"),),
) -> Mind:
    shipped = load_catalogue(DIALOGS, language)
    catalogue = Catalogue(shipped.groups, relatives)
    return assemble_mind(
        DIALOGS, language, catalogue, store or MemoryStore(), clock or Clock(), chat=chat, voice=voice
    )


def reminders(mind: Mind) -> list[Reminder]:
    """The reminders the mind has saved (in its RAM database)."""
    return mind.rules.agenda.book.all()


def say(mind: Mind, text: str, language: str = "da") -> tuple[str, set[str]]:
    """One turn: the reply's text and its outcomes."""
    from companion.events import ReplyDelta, ReplyDone, Transcript

    reply, outcomes = "", set()
    for event in mind.respond(Transcript(text, language)):
        if isinstance(event, ReplyDelta):
            reply += event.text
        elif isinstance(event, ReplyDone):
            outcomes = {outcome(a) for a in event.acts}
    return reply, outcomes
