"""Counts what the speech loop does, from its events: turns, conversations and their length, suggestions
offered / accepted / declined by kind, sessions the person says they went to, the helpline given, errors.

Of a transcript it sees only that something was said, never what; of a reply only its acts; of an error
only its stable code — and it turns them into the fixed measures of measures.py. It runs on the
observers' thread, so a slow disk never holds up a turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from companion.errors import StoreError
from companion.events import Act, Event, ReplyDone, StageError, Transcript
from companion.reminders.recurrence import local
from companion.usage.measures import length_bucket, stage_of
from companion.usage.store import Cell, add

log = logging.getLogger(__name__)

CONVERSATION_GAP = timedelta(minutes=10)
"""As the mind's: a turn after a longer pause starts a new conversation."""


class UsageObserver:
    def __init__(
        self,
        engine: Engine,
        household_id: int,
        now: Callable[[], datetime],
        group_kind: Callable[[str], str | None],
    ) -> None:
        self.engine = engine
        self.household_id = household_id
        self.now = now
        self.group_kind = group_kind
        """A catalogue entry's kind ("group", "volunteer") by its id."""
        self._started: date | None = None
        self._turns = 0
        self._last_turn: datetime | None = None
        self._last_offer = "group"

    def __call__(self, event: Event) -> None:
        # A turn is the person speaking (a Transcript); a reminder or an apology the device says on its own
        # ends with a ReplyDone too, and must not count as talk.
        if isinstance(event, Transcript) and event.text.strip():
            self._turn()
        elif isinstance(event, ReplyDone):
            self._acts(event.acts)
        elif isinstance(event, StageError):
            self._count(self.now(), {("errors", stage_of(event.code)): 1})

    def close(self) -> None:
        """The conversation under way is counted (at shutdown)."""
        self._end_conversation()

    def _turn(self) -> None:
        now = self.now()
        if self._last_turn is None or now - self._last_turn > CONVERSATION_GAP:
            self._end_conversation()
            self._started = local(now).date()
        self._last_turn = now
        self._turns += 1
        self._count(now, {("turns", ""): 1})

    def _acts(self, acts: tuple[Act, ...]) -> None:
        counts: dict[Cell, int] = {}
        for done in acts:
            cell = self._measure_of(done)
            if cell is not None:
                counts[cell] = counts.get(cell, 0) + 1
        if counts:
            self._count(self.now(), counts)

    def _measure_of(self, done: Act) -> Cell | None:
        target = done.details.get("target", "")
        if done.kind in ("group_suggested", "relative_suggestion"):
            kind = "volunteer" if self.group_kind(target) == "volunteer" else "group"
            self._last_offer = kind
            return ("suggestions_offered", kind)
        if done.kind in ("volunteer_suggested", "relative_suggested"):
            # A relative's name is in that act's target: only its kind is counted.
            self._last_offer = "volunteer" if done.kind == "volunteer_suggested" else "relative"
            return ("suggestions_offered", self._last_offer)
        if done.kind == "suggestion_accepted":
            return ("suggestions_accepted", self._last_offer)
        if done.kind == "suggestion_declined":
            return ("suggestions_declined", self._last_offer)
        if done.kind == "attended" and target == "yes":
            return ("sessions_attended", "")
        if done.kind == "helpline":
            return ("helpline_given", "")
        return None

    def _end_conversation(self) -> None:
        if self._started is not None and self._turns:
            self._count_on(self._started, {("conversations", length_bucket(self._turns)): 1})
        self._started, self._turns = None, 0

    def _count(self, now: datetime, counts: dict[Cell, int]) -> None:
        self._count_on(local(now).date(), counts)

    def _count_on(self, day: date, counts: dict[Cell, int]) -> None:
        try:
            add(self.engine, self.household_id, day, counts)
        except StoreError as error:
            log.error("usage not counted: %s", error)
