"""Reminder occurrences the database could not take (a full disk): kept in memory, so that a due reminder
is still said, repeated and acknowledged, and written back to the database at the first chance.

Not thread-safe on its own: the Ledger holds its lock around every use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_, update

from companion.reminders.occurrence import Occurrence
from companion.reminders.recurrence import Due, wall_text
from companion.store.schema import occurrences, reminders


class HeldOccurrences:
    def __init__(self) -> None:
        self._by_id: dict[int, Occurrence] = {}
        """By id: a stored row's id when it overrides the row, a negative one for a row never written."""
        self._last_new_id = 0

    def __bool__(self) -> bool:
        return bool(self._by_id)

    def __contains__(self, occurrence_id: object) -> bool:
        return occurrence_id in self._by_id

    def get(self, occurrence_id: int) -> Occurrence | None:
        return self._by_id.get(occurrence_id)

    def put(self, occurrence: Occurrence, **values: Any) -> Occurrence:
        self._by_id[occurrence.id] = dataclasses.replace(occurrence, **values)
        return self._by_id[occurrence.id]

    def add_due(self, due: Due) -> None:
        """A due moment that could not be recorded: pending, once."""
        if any(
            (o.reminder_id, o.due_at, o.lead) == (due.reminder_id, due.due_at, due.lead) for o in self.all()
        ):
            return
        self._last_new_id -= 1
        new = Occurrence(
            self._last_new_id, due.reminder_id, due.due_at, due.lead, due.speak_utc, "pending", 0, None
        )
        self._by_id[new.id] = new

    def in_state(self, states: Sequence[str]) -> list[Occurrence]:
        return [o for o in self._by_id.values() if o.state in states]

    def all(self) -> list[Occurrence]:
        return list(self._by_id.values())

    def forget(self, ids: Iterable[int]) -> None:
        for occurrence_id in ids:
            self._by_id.pop(occurrence_id, None)

    def forget_deleted(self, connection: Connection) -> None:
        """Held moments of reminders deleted meanwhile (the database deletes their rows with them)."""
        wanted = {o.reminder_id for o in self._by_id.values()}
        alive = set(connection.scalars(select(reminders.c.id).where(reminders.c.id.in_(wanted))))
        self.forget([o.id for o in self._by_id.values() if o.reminder_id not in alive])

    def write_back(self, connection: Connection, now: datetime) -> None:
        """Into the database, in the caller's write transaction; then memory holds nothing more."""
        self.forget_deleted(connection)
        for held in self.all():
            values = {
                "state": held.state,
                "attempts": held.attempts,
                "last_attempt_utc": held.last_attempt_utc,
                "updated_utc": now,
            }
            if held.id > 0:
                connection.execute(update(occurrences).where(occurrences.c.id == held.id).values(**values))
                continue
            key = (held.reminder_id, wall_text(held.due_at), held.lead)
            columns = tuple_(occurrences.c.reminder_id, occurrences.c.due_at, occurrences.c.lead)
            if connection.execute(select(occurrences.c.id).where(columns == key)).first() is None:
                row = {"reminder_id": key[0], "due_at": key[1], "lead": key[2], "speak_utc": held.speak_utc}
                connection.execute(insert(occurrences).values(**row, **values))
        self._by_id.clear()
