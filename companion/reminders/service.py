"""The reminder side of `companion run`, put together from the settings and the open database."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from companion.content import Phrases
from companion.errors import CompanionError, SettingsError
from companion.mind.catalogue import Group
from companion.mind.time_words import TimeWords
from companion.reminders.book import ReminderBook
from companion.reminders.clock import Clock
from companion.reminders.delivery import ReminderDesk
from companion.reminders.ledger import Ledger
from companion.reminders.recurrence import Timing, local
from companion.reminders.scheduler import Scheduler, SchedulerOptions
from companion.settings import ReminderSettings
from companion.store.database import Database

log = logging.getLogger(__name__)


def clock_time(value: str, key: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as error:
        raise SettingsError(
            f"[reminders] {key} = {value!r} is not a time of day.", 'Write it as "HH:MM".'
        ) from error


def scheduler_options(settings: ReminderSettings) -> SchedulerOptions:
    timing = Timing(
        morning=clock_time(settings.morning, "morning"),
        lead=timedelta(minutes=settings.lead_minutes),
        quiet_start=clock_time(settings.quiet_start, "quiet_start"),
        quiet_end=clock_time(settings.quiet_end, "quiet_end"),
    )
    return SchedulerOptions(
        timing=timing,
        catch_up=timedelta(minutes=settings.catch_up_minutes),
        repeat_after=timedelta(minutes=settings.repeat_minutes),
        attempts=settings.attempts,
    )


class NightlySnapshot:
    """Once a day, after the snapshot time: a consistent copy of the database (`VACUUM INTO`)."""

    def __init__(self, database: Database, at: time) -> None:
        self.database = database
        self.at = at
        newest = database.snapshots()
        self._last_day = _local_day(newest[0].name) if newest else ""

    def __call__(self, now_utc: datetime) -> None:
        wall = local(now_utc)
        day = wall.strftime("%Y%m%d")
        if day == self._last_day or wall.time() < self.at:
            return
        self._last_day = day  # one try a day: a full disk must not make it retry every round
        try:
            self.database.snapshot(now_utc)
        except CompanionError as error:
            log.error("the nightly database snapshot failed: %s", error)


def _local_day(snapshot_name: str) -> str:
    """The Copenhagen day of a snapshot, whose file name carries its UTC time."""
    stamp = snapshot_name.removeprefix("companion-").removesuffix(".db")
    try:
        return local(datetime.strptime(stamp, "%Y%m%dT%H%M%S")).strftime("%Y%m%d")
    except ValueError:
        return ""


def reminder_desk(
    database: Database,
    settings: ReminderSettings,
    clock: Clock,
    phrases: Phrases,
    time_words: TimeWords,
    group: Callable[[str], Group | None],
    on_due: Callable[[], None] | None = None,
    chores: Sequence[Callable[[datetime], None]] = (),
) -> ReminderDesk:
    """The scheduler (not started) and the desk the device loop speaks from; `chores` run every round
    besides the nightly snapshot (the heartbeat, the usage counts)."""
    book = ReminderBook(database.engine, clock.now)
    ledger = Ledger(database.engine)
    scheduler = Scheduler(
        book,
        ledger,
        clock,
        scheduler_options(settings),
        on_due=on_due,
        chores=[
            NightlySnapshot(database, clock_time(settings.snapshot_time, "snapshot_time")),
            *chores,
        ],
    )
    return ReminderDesk(book, ledger, scheduler, phrases, time_words, group)
