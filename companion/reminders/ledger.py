"""The occurrences of reminders and their states, in the database. What makes delivery exactly-once:

    pending ──claim──▶ delivering ──spoken──▶ delivered ──press──▶ acknowledged
                          ▲                      │
                          └──claim (repeat)──────┤ no press after the last attempt ──▶ missed

- An occurrence row is created once per (reminder, wall time, lead): the unique key refuses a second.
- `claim` is a conditional update committed *before* the reminder is spoken; a process that dies while
  speaking leaves `delivering`, which `recover` turns into `delivered` — that attempt counted, so a restart
  repeats the reminder as one of its allowed attempts, never as a new delivery.
- Each change is one short transaction with `synchronous=FULL`: an acknowledgement that returned is on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, insert, select, tuple_, update

from companion.reminders.recurrence import Due, parse_wall, wall_text
from companion.store.database import store_errors, writing
from companion.store.schema import marks, occurrences

SCHEDULER_MARK = "scheduler"


@dataclass(frozen=True)
class Occurrence:
    id: int
    reminder_id: int
    due_at: datetime
    lead: str
    speak_utc: datetime
    state: str
    attempts: int
    last_attempt_utc: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Occurrence:
        return cls(
            id=row.id,
            reminder_id=row.reminder_id,
            due_at=parse_wall(row.due_at),
            lead=row.lead,
            speak_utc=row.speak_utc,
            state=row.state,
            attempts=row.attempts,
            last_attempt_utc=row.last_attempt_utc,
        )


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @store_errors("read the scheduler's mark")
    def mark(self) -> datetime | None:
        """Everything due up to this instant has been recorded (None: the scheduler never ran)."""
        with self.engine.connect() as connection:
            return connection.scalar(select(marks.c.value_utc).where(marks.c.name == SCHEDULER_MARK))

    @store_errors("record due reminders")
    def record(self, to_speak: Sequence[Due], missed: Sequence[Due], mark: datetime) -> None:
        """New occurrences (to speak, or missed while the device was off) and the new mark, together."""
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
            changed = connection.execute(
                update(marks).where(marks.c.name == SCHEDULER_MARK).values(value_utc=mark)
            ).rowcount
            if not changed:
                connection.execute(insert(marks).values(name=SCHEDULER_MARK, value_utc=mark))

    @store_errors("read reminder occurrences")
    def in_state(self, *states: str) -> list[Occurrence]:
        query = select(occurrences).where(occurrences.c.state.in_(states)).order_by(occurrences.c.speak_utc)
        with self.engine.connect() as connection:
            return [Occurrence.from_row(row) for row in connection.execute(query)]

    @store_errors("read a reminder occurrence")
    def get(self, occurrence_id: int) -> Occurrence | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(occurrences).where(occurrences.c.id == occurrence_id)).first()
        return Occurrence.from_row(row) if row is not None else None

    @store_errors("change reminder occurrences")
    def _move(
        self, ids: Iterable[int], from_states: Sequence[str], now: datetime, **values: Any
    ) -> list[int]:
        ids = list(ids)
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

    @store_errors("claim a reminder to speak")
    def claim(self, occurrence: Occurrence, now: datetime) -> Occurrence | None:
        """Take the occurrence for one spoken attempt; None when it is no longer to be spoken (acknowledged,
        missed, deleted, or claimed already). Committed before a word is said."""
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
        return self.get(occurrence.id) if changed else None

    def spoken(self, occurrence_id: int, now: datetime) -> None:
        self._move([occurrence_id], ("delivering",), now, state="delivered")

    def acknowledge(self, now: datetime) -> list[int]:
        """The button was pressed: every reminder being spoken or waiting for a press is acknowledged."""
        waiting = [o.id for o in self.in_state("delivering", "delivered")]
        return self._move(waiting, ("delivering", "delivered"), now, state="acknowledged")

    def miss(self, ids: Iterable[int], now: datetime) -> list[int]:
        return self._move(ids, ("pending", "delivered"), now, state="missed")
