"""A clock the tests move by hand, for the reminder scheduler (companion.reminders.clock.Clock)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from companion.mind.catalogue import COPENHAGEN


def utc(wall: str) -> datetime:
    """A Copenhagen wall time ("2026-12-03T14:00") as the naive UTC instant the scheduler uses."""
    aware = datetime.fromisoformat(wall).replace(tzinfo=COPENHAGEN)
    return aware.astimezone(UTC).replace(tzinfo=None)


class ManualClock:
    """Time stands still until `advance` or `set`; sleepers wake when time reaches what they waited for."""

    def __init__(self, start: datetime, synchronised: bool = True) -> None:
        self._now = start
        self._synchronised = synchronised
        self._changed = threading.Condition()

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def synchronised(self) -> bool:
        return self._synchronised

    def set_synchronised(self, value: bool) -> None:
        with self._changed:
            self._synchronised = value
            self._changed.notify_all()

    def set(self, moment: datetime) -> None:
        with self._changed:
            self._now = moment
            self._changed.notify_all()

    def advance(self, **delta: float) -> None:
        with self._changed:
            self._now += timedelta(**delta)
            self._changed.notify_all()

    def sleep(self, wake: threading.Event, seconds: float) -> None:
        until = self.now() + timedelta(seconds=seconds)
        with self._changed:
            while not wake.is_set() and self._now < until:
                # Short real waits: the waker may be an Event (poke) rather than this condition.
                self._changed.wait(0.01)
