"""One occurrence of a reminder — a moment it is to be said — and its state (see ledger.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from companion.reminders.recurrence import parse_wall


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
