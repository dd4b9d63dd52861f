"""The device's own usage counts, kept by a chore of the reminder scheduler's round: minutes up and minutes
without a microphone, what became of reminders, and the folding of old days into weeks.

Counts stay in memory for a few minutes before they are written (a crash loses at most those minutes);
reminders are counted once they are done with (heard, or missed), from the occurrences the scheduler and
the device already keep, so a deleted reminder's past stays counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from companion.errors import StoreError
from companion.reminders.recurrence import local
from companion.store.database import store_errors, writing
from companion.store.marks import read_mark, set_mark
from companion.store.schema import occurrences, reminders
from companion.usage.store import Cell, add, add_within, fold_old_days

log = logging.getLogger(__name__)

WRITE_EVERY = timedelta(minutes=5)
TALLY_MARK = "usage_reminders"
"""In `marks`: occurrences done with up to this instant have been counted."""


class UsageKeeper:
    """Called every scheduler round (see reminders/service.py)."""

    def __init__(
        self, engine: Engine, household_id: int, microphone_ok: Callable[[], bool], keep_days: int
    ) -> None:
        self.engine = engine
        self.household_id = household_id
        self.microphone_ok = microphone_ok
        self.keep_days = keep_days
        self._seen: datetime | None = None
        self._written: datetime | None = None
        self._minutes: dict[tuple[date, str], float] = {}
        self._folded_on: date | None = None

    def __call__(self, now: datetime) -> None:
        if self._seen is not None and now > self._seen:
            # A round is at most ~30 s apart; a longer gap was the device asleep or off: not minutes up.
            elapsed = min(now - self._seen, timedelta(minutes=2)).total_seconds() / 60
            day = local(now).date()
            self._add_minutes(day, "uptime_minutes", elapsed)
            if not self.microphone_ok():
                self._add_minutes(day, "microphone_missing_minutes", elapsed)
        self._seen = now
        if self._written is None or now - self._written >= WRITE_EVERY:
            self._written = now
            self.write(now)

    def _add_minutes(self, day: date, measure: str, minutes: float) -> None:
        self._minutes[(day, measure)] = self._minutes.get((day, measure), 0.0) + minutes

    def write(self, now: datetime) -> None:
        """Write the minutes gathered, count finished reminders, fold old days (once a day)."""
        try:
            for (day, measure), minutes in list(self._minutes.items()):
                whole = int(minutes)
                if whole:
                    add(self.engine, self.household_id, day, {(measure, ""): whole})
                    self._minutes[(day, measure)] -= whole
            self._tally_reminders(now)
            today = local(now).date()
            if self._folded_on != today:
                fold_old_days(self.engine, today, self.keep_days)
                self._folded_on = today
        except StoreError as error:
            log.error("usage not counted this time: %s", error)

    @store_errors("count reminders for usage")
    def _tally_reminders(self, now: datetime) -> None:
        # One transaction: an occurrence finished while counting is either counted now or after the mark.
        with writing(self.engine) as connection:
            since = read_mark(connection, TALLY_MARK)
            done = connection.execute(
                select(
                    occurrences.c.speak_utc,
                    occurrences.c.state,
                    occurrences.c.attempts,
                    occurrences.c.lead,
                    reminders.c.group_id,
                )
                .join(reminders, reminders.c.id == occurrences.c.reminder_id)
                .where(
                    reminders.c.household_id == self.household_id,
                    occurrences.c.state.in_(("acknowledged", "missed")),
                    # Half-open, [mark, now): the scheduler marks reminders missed later in the same round,
                    # with this very `now`.
                    occurrences.c.updated_utc < now,
                    *([occurrences.c.updated_utc >= since] if since is not None else []),
                )
            ).all()
            for day, cells in _reminder_counts([tuple(row) for row in done]).items():
                add_within(connection, self.household_id, day, cells)
            set_mark(connection, TALLY_MARK, now)


def _reminder_counts(done: Sequence[tuple[Any, ...]]) -> dict[date, dict[Cell, int]]:
    """(speak_utc, state, attempts, lead, group_id) of finished occurrences → counts by their day."""
    by_day: dict[date, dict[Cell, int]] = {}
    for speak_utc, state, attempts, lead, group_id in done:
        cells = by_day.setdefault(local(speak_utc).date(), {})
        said = attempts > 0
        for measure, counted in (
            ("reminders_delivered", said),
            ("reminders_acknowledged", state == "acknowledged"),
            ("reminders_missed", state == "missed"),
            # A session is said of in the morning and again before it: counted once, by the one before.
            ("sessions_reminded", said and group_id is not None and lead == "before"),
        ):
            if counted:
                cells[(measure, "")] = cells.get((measure, ""), 0) + 1
    return by_day
