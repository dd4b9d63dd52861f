"""The occurrences of reminders and their states, in the database. What makes delivery exactly-once:

    pending ──claim──▶ delivering ──spoken──▶ delivered ──press──▶ acknowledged
                          ▲                      │
                          └──claim (repeat)──────┤ no press after the last attempt ──▶ missed

- An occurrence row is created once per (reminder, wall time, lead): the unique key refuses a second.
- `claim` is a conditional update committed *before* the reminder is spoken; a process that dies while
  speaking leaves `delivering`, which `recover` turns into `delivered` — that attempt counted, so a restart
  repeats the reminder as one of its allowed attempts, never as a new delivery.
- Each change is one short transaction with `synchronous=FULL`: an acknowledgement that returned is on disk.

When the database cannot be written (a full disk), reminders are still spoken: what could not be recorded
or changed is held in memory (held.py, over what the database says) and written back at the first write
that succeeds, so a due reminder is said, repeated and acknowledged as usual. Only what is held when the
program stops is lost — then a reminder may be said again. The light and `companion doctor` tell the
coordinator meanwhile. One lock keeps each check-and-change whole across the scheduler's, the loop's and
the player's threads, as the database's conditional updates do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, insert, select, tuple_, update

from companion.errors import StoreError
from companion.reminders.held import HeldOccurrences
from companion.reminders.occurrence import Occurrence
from companion.reminders.recurrence import Due, wall_text
from companion.store.database import store_errors, writing
from companion.store.marks import read_mark, set_mark
from companion.store.schema import occurrences

log = logging.getLogger(__name__)

SCHEDULER_MARK = "scheduler"
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _busy(error: StoreError) -> bool:
    """Locked by another writer (the web page) — not a database that cannot be written at all."""
    cause = getattr(error.__cause__, "orig", None)
    code = getattr(cause, "sqlite_errorcode", None)
    # The extended codes (SQLITE_BUSY_SNAPSHOT …) carry the primary one in their low byte.
    return (code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)) or "locked" in str(cause)


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._held = HeldOccurrences()
        self._lock = threading.RLock()

    @property
    def holding(self) -> bool:
        """Some reminder state lives only in memory: the database could not take it (yet)."""
        with self._lock:
            return bool(self._held)

    @store_errors("read the scheduler's mark")
    def mark(self) -> datetime | None:
        """Everything due up to this instant has been recorded (None: the scheduler never ran)."""
        with self.engine.connect() as connection:
            return read_mark(connection, SCHEDULER_MARK)

    def write_back(self, now: datetime) -> bool:
        """What is held goes to the database, if it can be written again; True when nothing is held."""
        with self._lock:
            if not self._held:
                return True
            try:
                self._write_back(now)
            except StoreError as error:
                log.debug("reminders still held in memory: %s", error)
                return False
            log.info("reminders held in memory are written to the database again")
            return True

    @store_errors("write back the reminders held in memory")
    def _write_back(self, now: datetime) -> None:
        with writing(self.engine) as connection:
            self._held.write_back(connection, now)

    def record(self, to_speak: Sequence[Due], missed: Sequence[Due], mark: datetime) -> None:
        """New occurrences (to speak, or missed while the device was off) and the new mark, together —
        or, when the database cannot take them, the ones to speak held in memory."""
        with self._lock:
            try:
                self._record(to_speak, missed, mark)
            except StoreError as error:
                if _busy(error):
                    raise  # another writer for a moment: the next round tries again
                log.error("reminders held in memory: %s", error)
                for due in to_speak:
                    self._held.add_due(due)

    @store_errors("record due reminders")
    def _record(self, to_speak: Sequence[Due], missed: Sequence[Due], mark: datetime) -> None:
        wanted = [(due, "pending") for due in to_speak] + [(due, "missed") for due in missed]
        keys = [(d.reminder_id, wall_text(d.due_at), d.lead) for d, _state in wanted]
        with writing(self.engine) as connection:
            existing = set()
            if keys:
                key_columns = tuple_(occurrences.c.reminder_id, occurrences.c.due_at, occurrences.c.lead)
                found = connection.execute(
                    select(occurrences.c.reminder_id, occurrences.c.due_at, occurrences.c.lead).where(
                        key_columns.in_(keys)
                    )
                )
                existing = {tuple(row) for row in found}
            rows = [
                {
                    "reminder_id": due.reminder_id,
                    "due_at": wall_text(due.due_at),
                    "lead": due.lead,
                    "speak_utc": due.speak_utc,
                    "state": state,
                    "attempts": 0,
                    "updated_utc": mark,
                }
                for (due, state), key in zip(wanted, keys, strict=True)
                if key not in existing
            ]
            if rows:
                connection.execute(insert(occurrences), rows)
            set_mark(connection, SCHEDULER_MARK, mark)

    def in_state(self, *states: str) -> list[Occurrence]:
        with self._lock:
            if self._held:
                self._forget_deleted()
            stored = [o for o in self._stored_in_state(states) if o.id not in self._held]
            return sorted(stored + self._held.in_state(states), key=lambda o: o.speak_utc)

    @store_errors("read which reminders still exist")
    def _forget_deleted(self) -> None:
        with self.engine.connect() as connection:
            self._held.forget_deleted(connection)

    @store_errors("read reminder occurrences")
    def _stored_in_state(self, states: Sequence[str]) -> list[Occurrence]:
        query = select(occurrences).where(occurrences.c.state.in_(states)).order_by(occurrences.c.speak_utc)
        with self.engine.connect() as connection:
            return [Occurrence.from_row(row) for row in connection.execute(query)]

    def get(self, occurrence_id: int) -> Occurrence | None:
        with self._lock:
            return self._held.get(occurrence_id) or self._stored(occurrence_id)

    @store_errors("read a reminder occurrence")
    def _stored(self, occurrence_id: int) -> Occurrence | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(occurrences).where(occurrences.c.id == occurrence_id)).first()
        return Occurrence.from_row(row) if row is not None else None

    def _move(self, ids: Iterable[int], from_states: Sequence[str], now: datetime, state: str) -> list[int]:
        with self._lock:
            ids = list(ids)
            stored = [i for i in ids if i not in self._held]
            try:
                moved = self._move_stored(stored, from_states, now, state=state)
            except StoreError as error:
                if _busy(error):
                    raise  # another writer for a moment: the next round tries again
                log.error("reminder states held in memory: %s", error)
                moved = []
                for found in (self._stored(i) for i in stored):
                    if found is not None and found.state in from_states:
                        self._held.put(found, state=state)
                        moved.append(found.id)
            for i in ids:
                held = self._held.get(i)
                if held is not None and held.state in from_states:
                    self._held.put(held, state=state)
                    moved.append(i)
            return moved

    @store_errors("change reminder occurrences")
    def _move_stored(
        self, ids: list[int], from_states: Sequence[str], now: datetime, **values: Any
    ) -> list[int]:
        if not ids:
            return []
        condition = and_(occurrences.c.id.in_(ids), occurrences.c.state.in_(from_states))
        with writing(self.engine) as connection:
            moved = [row.id for row in connection.execute(select(occurrences.c.id).where(condition))]
            if moved:
                connection.execute(
                    update(occurrences).where(occurrences.c.id.in_(moved)).values(updated_utc=now, **values)
                )
        return moved

    def recover(self, now: datetime) -> int:
        """After a crash while speaking: that attempt counts, and the repeat cycle carries on."""
        return len(
            self._move([o.id for o in self.in_state("delivering")], ("delivering",), now, state="delivered")
        )

    def claim(self, occurrence: Occurrence, now: datetime) -> Occurrence | None:
        """Take the occurrence for one spoken attempt; None when it is no longer to be spoken (acknowledged,
        missed, deleted, or claimed already). Committed before a word is said — or held in memory when the
        database cannot be written, rather than leave the reminder unsaid."""
        with self._lock:
            current = self._held.get(occurrence.id)
            if current is None:
                try:
                    return self._claim_stored(occurrence, now)
                except StoreError as error:
                    if _busy(error):
                        raise  # another writer for a moment: the next round tries again
                    log.error("a reminder's attempt held in memory: %s", error)
                    current = self._stored(occurrence.id)
            if current is None or current.state not in ("pending", "delivered"):
                return None
            if current.attempts != occurrence.attempts:
                return None
            attempt = {"state": "delivering", "attempts": current.attempts + 1, "last_attempt_utc": now}
            return self._held.put(current, **attempt)

    @store_errors("claim a reminder to speak")
    def _claim_stored(self, occurrence: Occurrence, now: datetime) -> Occurrence | None:
        condition = and_(
            occurrences.c.id == occurrence.id,
            occurrences.c.state.in_(("pending", "delivered")),
            occurrences.c.attempts == occurrence.attempts,
        )
        with writing(self.engine) as connection:
            changed = connection.execute(
                update(occurrences)
                .where(condition)
                .values(
                    state="delivering",
                    attempts=occurrence.attempts + 1,
                    last_attempt_utc=now,
                    updated_utc=now,
                )
            ).rowcount
        return self._stored(occurrence.id) if changed else None

    def spoken(self, occurrence_id: int, now: datetime) -> None:
        self._move([occurrence_id], ("delivering",), now, state="delivered")

    def acknowledge(self, now: datetime) -> list[int]:
        """The button was pressed: every reminder being spoken or waiting for a press is acknowledged."""
        waiting = [o.id for o in self.in_state("delivering", "delivered")]
        return self._move(waiting, ("delivering", "delivered"), now, state="acknowledged")

    def miss(self, ids: Iterable[int], now: datetime) -> list[int]:
        return self._move(ids, ("pending", "delivered"), now, state="missed")
