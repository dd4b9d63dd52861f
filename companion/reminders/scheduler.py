"""The reminder scheduler of the device daemon: knows what is due, sleeps until the next moment.

`tick()` is one pass on the injectable clock and returns when to wake next; `start()` runs passes on a
thread of their own, which a failing pass (a locked or full database) never ends. No polling of the
reminders: each reminder's next moment is cached and only recomputed when that reminder changes (noticed
through `ReminderBook.revision()`, which also sees the web app's writes) or once it has passed. The thread
still wakes at least every `longest_sleep`, because a wall clock can be moved (NTP) while a thread sleeps
and another process may add a reminder.

Rules, as the issue states them:
- nothing fires while the clock is not synchronised; afterwards the gap is caught up;
- what fell due while the device was off is spoken if it is less than `catch_up` old, else marked missed;
- unacknowledged reminders are repeated every `repeat_after`, `attempts` times in all, then missed;
- quiet hours hold reminders and repeats that are not urgent (see recurrence.Timing);
- a clock moved backwards makes nothing fire twice: the mark (everything up to it is dealt with) stays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from companion.errors import CompanionError
from companion.reminders.book import Reminder, ReminderBook
from companion.reminders.clock import Clock
from companion.reminders.ledger import Ledger
from companion.reminders.occurrence import Occurrence
from companion.reminders.recurrence import Due, Timing, expand, local, next_dues

log = logging.getLogger(__name__)

_MARK_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class SchedulerOptions:
    timing: Timing = field(default_factory=Timing)
    catch_up: timedelta = timedelta(hours=2)
    repeat_after: timedelta = timedelta(minutes=5)
    attempts: int = 3
    longest_sleep: timedelta = timedelta(seconds=30)


class Scheduler:
    def __init__(
        self,
        book: ReminderBook,
        ledger: Ledger,
        clock: Clock,
        options: SchedulerOptions | None = None,
        on_due: Callable[[], None] | None = None,
        chores: Sequence[Callable[[datetime], None]] = (),
    ) -> None:
        self.book = book
        self.ledger = ledger
        self.clock = clock
        self.options = options or SchedulerOptions()
        self.on_due = on_due
        self.chores = chores
        """Done each round, e.g. the nightly snapshot and the health heartbeat; their failures are logged,
        never a reason to skip the reminders."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._revision: object = None
        self._next: dict[int, Due | None] = {}
        self._reminders: dict[int, Reminder] = {}
        self._gave_up = False
        self._wake_at: datetime | None = None

    # -- one pass --------------------------------------------------------------------------------------

    def tick(self) -> datetime:
        """Record what is due now, expire what is too old; returns the instant to wake at next."""
        now = self.clock.now()
        if not self.clock.synchronised():
            return now + self.options.longest_sleep
        for chore in self.chores:
            try:
                chore(now)
            except CompanionError as error:
                log.error("a scheduler chore failed: %s", error)
        self.ledger.write_back(now)  # what a full disk kept in memory, once it can be written again
        stored = self.ledger.mark()
        mark = stored or now - self.options.catch_up
        if self.book.revision() != self._revision:
            self._reload(mark)
        if now > mark:
            to_speak, missed, following = self._due_between(mark, now)
            # Idle rounds write the mark only hourly (an SD card wears); the next round looks from the
            # older mark, and what is already recorded is not recorded again.
            if to_speak or missed or stored is None or now - stored >= _MARK_EVERY:
                self.ledger.record(to_speak, missed, now)
            # Only once recorded: a round whose write failed must find the same reminders due again.
            self._next.update(following)
            if missed:
                log.info(
                    "%d reminder(s) fell due while the device was off and are marked missed", len(missed)
                )
        self._expire(now)
        return self._next_wake(now)

    def ready(self) -> list[Occurrence]:
        """Occurrences to speak now: new ones, and repeats of those nobody acknowledged."""
        now = self.clock.now()
        if not self.clock.synchronised():
            return []
        pending = [o for o in self.ledger.in_state("pending") if o.speak_utc <= now]
        repeats = [
            o
            for o in self.ledger.in_state("delivered")
            if o.attempts < self.options.attempts and self._repeat_due(o, now)
        ]
        if self.options.timing.quiet_at(local(now)):
            # Held past 22:00 (by a long conversation, a repeat, a device back on at night): wait too.
            return [o for o in pending + repeats if self._urgent(o.reminder_id)]
        return pending + repeats

    def _urgent(self, reminder_id: int) -> bool:
        reminder = self._reminders.get(reminder_id) or self.book.get(reminder_id)
        return reminder is not None and reminder.urgent

    def _reload(self, mark: datetime) -> None:
        """Recompute only what changed: expanding a year-old rule costs, a thousand of them a lot."""
        revision = self.book.revision()
        fresh = {r.id: r for r in self.book.all()}
        for rid, reminder in fresh.items():
            if self._reminders.get(rid) != reminder:
                self._next[rid] = self._first_after(reminder, mark)
        for gone in set(self._next) - set(fresh):
            del self._next[gone]
        self._reminders = fresh
        self._revision = revision  # last: a reload cut short by an error is done again next round

    def _first_after(self, reminder: Reminder, after: datetime) -> Due | None:
        after = max(after, reminder.created_utc)
        return next(self._dues(reminder, after), None)

    def _dues(self, reminder: Reminder, after: datetime) -> Iterator[Due]:
        rule = expand(reminder.rrule, reminder.starts_at)
        for_group = reminder.group_id is not None
        timing = self.options.timing
        return next_dues(rule, reminder.id, after, for_group, reminder.urgent, timing, reminder.created_utc)

    def _due_between(
        self, mark: datetime, now: datetime
    ) -> tuple[list[Due], list[Due], dict[int, Due | None]]:
        """What fell due in (mark, now] — to speak, or too old and missed — and each such reminder's
        following moment."""
        to_speak: list[Due] = []
        missed: list[Due] = []
        following: dict[int, Due | None] = {}
        too_old = now - self.options.catch_up
        for rid, first in self._next.items():
            if first is None or first.speak_utc > now:
                continue
            reminder = self._reminders[rid]
            following[rid] = None
            for due in self._dues(reminder, max(mark, reminder.created_utc)):
                if due.speak_utc > now:
                    following[rid] = due
                    break
                (missed if due.speak_utc < too_old else to_speak).append(due)
        return to_speak, missed, following

    def _expire(self, now: datetime) -> None:
        """Pending ones held too long, and unacknowledged ones after their last attempt, become missed."""
        too_old = now - self.options.catch_up
        stale = [o.id for o in self.ledger.in_state("pending") if o.speak_utc < too_old]
        done = [
            o.id
            for o in self.ledger.in_state("delivered")
            if (o.attempts >= self.options.attempts and self._repeat_due(o, now))
            # A repeat held by quiet hours for longer than the catch-up: too late to be of use.
            or (o.last_attempt_utc is not None and o.last_attempt_utc < too_old)
        ]
        self._gave_up = bool(stale or done)
        if self._gave_up:
            self.ledger.miss(stale + done, now)

    def _repeat_due(self, occurrence: Occurrence, now: datetime) -> bool:
        last = occurrence.last_attempt_utc
        if last is None:
            return True
        # A clock moved back past the last attempt would otherwise hold the repeat for as long as it moved.
        return now >= last + self.options.repeat_after or now < last - timedelta(minutes=1)

    def _next_wake(self, now: datetime) -> datetime:
        wake = now + self.options.longest_sleep
        for due in self._next.values():
            if due is not None:
                wake = min(wake, due.speak_utc)
        for occurrence in self.ledger.in_state("delivered"):
            if occurrence.last_attempt_utc is not None:
                wake = min(wake, occurrence.last_attempt_utc + self.options.repeat_after)
        return max(wake, now)

    # -- the thread ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="reminders", daemon=True)
        self._thread.start()

    @property
    def stopped_unexpectedly(self) -> bool:
        """Started, not closed, and yet its thread is gone: reminders would go unsaid (the watchdog asks)."""
        return self._thread is not None and not self._thread.is_alive()

    def poke(self) -> None:
        """Something changed (a reminder made by voice, a press): look again now."""
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        recovered = self._round(self._recover)  # even when closed at once: a restart's first duty
        while not self._stop.is_set():
            self._wake.clear()
            recovered = recovered or self._round(self._recover)
            wake = self.clock.now() + self.options.longest_sleep
            if recovered:
                self._round(lambda: self._after_tick(self.tick()))
                wake = self._wake_at or wake
            seconds = (wake - self.clock.now()).total_seconds()
            self.clock.sleep(self._wake, min(seconds, self.options.longest_sleep.total_seconds()))

    def _recover(self) -> None:
        # A reminder cut short by a crash: that attempt counted (see ledger.py).
        self.ledger.recover(self.clock.now())

    def _after_tick(self, wake: datetime) -> None:
        self._wake_at = wake
        # A reminder given up as missed must reach the loop too: its light still shows it waiting.
        if self.on_due is not None and (self._gave_up or self.ready()):
            self.on_due()

    def _round(self, work: Callable[[], None]) -> bool:
        """Run one piece of the scheduler's work; False when it failed (it is tried again next round)."""
        self._wake_at = None
        try:
            work()
            return True
        except CompanionError as error:
            # A full disk or a locked database must not end the scheduler: try again shortly.
            log.error("the reminder scheduler could not do its round: %s", error)
        except Exception:  # a bug must not silence every reminder until the next restart either
            log.exception("the reminder scheduler's round failed unexpectedly")
        return False
