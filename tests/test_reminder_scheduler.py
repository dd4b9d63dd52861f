"""The scheduler on a hand-moved clock: on time, repeated, acknowledged, held in quiet hours, caught up after
downtime, silent while the clock is unsynchronised, never twice — across restarts and clock jumps too."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

import companion.store.database as database_module
from companion.errors import StoreError
from companion.mind.build import load_catalogue
from companion.reminders.book import ReminderBook
from companion.reminders.ledger import Ledger
from companion.reminders.occurrence import Occurrence
from companion.reminders.recurrence import Timing
from companion.reminders.scheduler import Scheduler, SchedulerOptions
from companion.store.catalogue import seed_catalogue
from companion.store.database import Database

from clocks import ManualClock, utc

DIALOGS = Path(__file__).parent.parent / "dialogs"
NO_QUIET = SchedulerOptions(timing=Timing(quiet_start=time(0, 0), quiet_end=time(0, 0)))


class Desk:
    """The scheduler's round as the device does it: tick, then speak what is ready (claim → spoken)."""

    def __init__(self, database: Database, clock: ManualClock, options: SchedulerOptions = NO_QUIET) -> None:
        self.clock = clock
        self.book = ReminderBook(database.engine, clock.now)
        self.ledger = Ledger(database.engine)
        self.scheduler = Scheduler(self.book, self.ledger, clock, options)
        self.said: list[tuple[int, int]] = []
        """(occurrence id, attempt) for every time a reminder was spoken."""

    def round(self) -> list[Occurrence]:
        self.scheduler.tick()
        spoken = []
        for occurrence in self.scheduler.ready():
            claimed = self.ledger.claim(occurrence, self.clock.now())
            if claimed is not None:
                self.said.append((claimed.id, claimed.attempts))
                self.ledger.spoken(claimed.id, self.clock.now())
                spoken.append(claimed)
        return spoken

    def states(self) -> list[str]:
        return [o.state for o in self.ledger.in_state(*_ALL)]


_ALL = ("pending", "delivering", "delivered", "acknowledged", "missed")


@pytest.fixture
def database() -> Iterator[Database]:
    with Database(None) as opened:
        yield opened


def test_a_reminder_is_spoken_at_its_minute_not_before(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:00"))
    desk = Desk(database, clock)
    desk.book.create("ring til Anne", "2026-12-03T10:00")
    assert desk.scheduler.tick() == utc("2026-12-03T09:00") + timedelta(seconds=30)  # the longest sleep
    clock.set(utc("2026-12-03T09:59") + timedelta(seconds=45))
    assert desk.round() == []
    assert desk.scheduler.tick() == utc("2026-12-03T10:00")  # it sleeps until the due minute exactly
    clock.set(utc("2026-12-03T10:00"))
    assert [o.attempts for o in desk.round()] == [1]


def test_unacknowledged_it_is_repeated_every_five_minutes_three_times_then_missed(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)
    desk.book.create("tag medicinen", "2026-12-03T10:00")
    for minute in range(0, 21):
        clock.set(utc("2026-12-03T10:00") + timedelta(minutes=minute))
        desk.round()
    assert [attempt for _id, attempt in desk.said] == [1, 2, 3]
    assert desk.states() == ["missed"]


def test_a_press_acknowledges_and_stops_the_repeats(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)
    desk.book.create("tag medicinen", "2026-12-03T10:00")
    clock.set(utc("2026-12-03T10:00"))
    desk.round()
    clock.advance(minutes=2)
    assert len(desk.ledger.acknowledge(clock.now())) == 1
    for _ in range(20):
        clock.advance(minutes=1)
        desk.round()
    assert desk.said == [(1, 1)] and desk.states() == ["acknowledged"]


def test_quiet_hours_hold_a_reminder_until_seven_unless_urgent(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T21:00"))
    desk = Desk(database, clock, SchedulerOptions())
    desk.book.create("sluk for kaffemaskinen", "2026-12-03T23:00")
    desk.book.create("luk vinduet, det stormer", "2026-12-03T23:00", urgent=True)
    clock.set(utc("2026-12-03T23:00"))
    assert [desk.book.get(o.reminder_id).text for o in desk.round()] == ["luk vinduet, det stormer"]  # type: ignore[union-attr]
    desk.ledger.acknowledge(clock.now())
    clock.set(utc("2026-12-04T06:59"))
    assert desk.round() == []
    clock.set(utc("2026-12-04T07:00"))
    assert [o.reminder_id for o in desk.round()] == [1]


def test_after_downtime_recent_ones_are_spoken_and_older_ones_marked_missed(tmp_path: Path) -> None:
    clock = ManualClock(utc("2026-12-03T08:00"))
    with Database(tmp_path) as database:
        desk = Desk(database, clock)
        desk.book.create("morgenmedicin", "2026-12-03T09:00")
        desk.book.create("ring til Lone", "2026-12-03T11:30")
        desk.round()  # the daemon ran at 08:00, then the power went
    clock.set(utc("2026-12-03T12:00"))
    with Database(tmp_path) as database:
        desk = Desk(database, clock)
        spoken = desk.round()
        assert [desk.book.get(o.reminder_id).text for o in spoken] == ["ring til Lone"]  # type: ignore[union-attr]
        assert sorted(desk.states()) == ["delivered", "missed"]


def test_nothing_fires_while_the_clock_is_unsynchronised_and_it_catches_up_after(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:00"), synchronised=False)
    desk = Desk(database, clock)
    desk.book.create("frokost med Bent", "2026-12-03T10:00")
    clock.set(utc("2026-12-03T10:30"))
    assert desk.round() == [] and desk.states() == []
    clock.set_synchronised(True)
    assert len(desk.round()) == 1  # 30 minutes late is within the two hours: said now


def test_a_clock_moved_back_does_not_say_anything_twice(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)
    desk.book.create("hver dag kl. 10", "2026-12-03T10:00", rrule="FREQ=DAILY")
    clock.set(utc("2026-12-03T10:00"))
    desk.round()
    desk.ledger.acknowledge(clock.now())
    clock.set(utc("2026-12-03T09:30"))  # NTP corrects a fast clock by half an hour
    for _ in range(60):
        clock.advance(minutes=1)
        desk.round()
    assert desk.said == [(1, 1)]
    clock.set(utc("2026-12-04T10:00"))
    desk.round()
    assert [attempt for _id, attempt in desk.said] == [1, 1] and len({i for i, _ in desk.said}) == 2


def test_a_clock_jumping_forward_speaks_what_is_recent_and_misses_what_is_old(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T08:00"))
    desk = Desk(database, clock)
    desk.book.create("gammel", "2026-12-03T09:00")
    desk.book.create("ny", "2026-12-03T13:00")
    desk.round()
    clock.set(utc("2026-12-03T14:00"))
    assert [desk.book.get(o.reminder_id).text for o in desk.round()] == ["ny"]  # type: ignore[union-attr]
    assert sorted(desk.states()) == ["delivered", "missed"]


def test_the_autumn_hour_that_comes_twice_speaks_a_reminder_once(database: Database) -> None:
    clock = ManualClock(utc("2026-10-24T20:00"))
    desk = Desk(database, clock)
    desk.book.create("nattemedicin", "2026-10-25T02:30", urgent=True)
    moment = utc("2026-10-24T20:00")
    while moment < utc("2026-10-25T05:00"):  # both passes of 02:00–03:00
        moment += timedelta(minutes=10)
        clock.set(moment)
        for occurrence in desk.round():
            desk.ledger.acknowledge(clock.now())
            assert occurrence.speak_utc == utc("2026-10-25T02:30")  # the first passing (summer time)
    assert desk.said == [(1, 1)]


def test_a_restart_neither_repeats_nor_forgets(tmp_path: Path) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    with Database(tmp_path) as database:
        desk = Desk(database, clock)
        desk.book.create("kaffe hos Inge", "2026-12-03T10:00")
        clock.set(utc("2026-12-03T10:00"))
        desk.round()
        desk.ledger.acknowledge(clock.now())
    for _ in range(3):
        clock.advance(minutes=5)
        with Database(tmp_path) as database:
            again = Desk(database, clock)
            again.scheduler.ledger.recover(clock.now())
            assert again.round() == []
            assert again.states() == ["acknowledged"]


def test_the_thread_sleeps_until_the_due_moment_and_calls_on_due(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:00"))
    book = ReminderBook(database.engine, clock.now)
    book.create("gå en tur", "2026-12-03T09:05")
    due = threading.Event()
    ticks = 0
    scheduler = Scheduler(book, Ledger(database.engine), clock, NO_QUIET, on_due=due.set)
    original_tick = scheduler.tick

    def counted_tick() -> datetime:
        nonlocal ticks
        ticks += 1
        return original_tick()

    scheduler.tick = counted_tick  # type: ignore[method-assign]
    scheduler.start()
    try:
        assert not due.wait(0.2)
        clock.advance(minutes=5)
        assert due.wait(5)
        # Woken by the clock reaching the due minute, not by a loop that polls: a handful of rounds.
        assert ticks <= 12
    finally:
        scheduler.close()


def test_a_reminder_deleted_after_it_fell_due_is_not_spoken(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)
    reminder = desk.book.create("tandlæge", "2026-12-03T10:00")
    clock.set(utc("2026-12-03T10:00"))
    desk.scheduler.tick()
    desk.book.delete(reminder.id)
    assert desk.round() == [] and desk.states() == []


def test_a_round_whose_write_failed_finds_the_same_reminder_due_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)
    desk.book.create("tandlæge", "2026-12-03T10:00")
    desk.scheduler.tick()
    clock.set(utc("2026-12-03T10:00"))
    real_record = desk.ledger.record

    def full_disk(*_args: object) -> None:
        raise StoreError("Could not record due reminders: database or disk is full.")

    monkeypatch.setattr(desk.ledger, "record", full_disk)
    with pytest.raises(StoreError):
        desk.scheduler.tick()
    monkeypatch.setattr(desk.ledger, "record", real_record)
    clock.advance(seconds=30)
    assert [o.reminder_id for o in desk.round()] == [1]


def test_no_fourth_attempt_even_if_asked_before_the_round_that_gives_up(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)
    desk.book.create("tag medicinen", "2026-12-03T10:00")
    for minute in (0, 5, 10):
        clock.set(utc("2026-12-03T10:00") + timedelta(minutes=minute))
        desk.round()
    clock.advance(minutes=5)
    assert desk.scheduler.ready() == []  # not yet marked missed by a round, but not said a fourth time


def test_a_database_locked_by_the_other_process_is_a_store_error_the_thread_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_S", 0.2)
    clock = ManualClock(utc("2026-12-03T09:59"))
    with Database(tmp_path) as database:
        desk = Desk(database, clock)
        desk.book.create("tag medicinen", "2026-12-03T10:00")
        other = sqlite3.connect(tmp_path / "companion.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the web app, in the middle of a write
        try:
            clock.set(utc("2026-12-03T10:00"))
            with pytest.raises(StoreError, match="locked"):
                desk.scheduler.tick()
            rounds = threading.Event()
            desk.scheduler.on_due = rounds.set
            desk.scheduler.start()
            threading.Event().wait(0.5)  # a few of its rounds fail meanwhile
            assert desk.scheduler._thread is not None and desk.scheduler._thread.is_alive()
        finally:
            other.execute("ROLLBACK")
            other.close()
        clock.advance(seconds=30)  # the next round, after the other writer let go
        assert rounds.wait(5)
        desk.scheduler.close()


def test_quiet_hours_hold_repeats_and_a_late_catch_up_and_too_late_is_missed(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T21:50"))
    desk = Desk(database, clock, SchedulerOptions())
    desk.book.create("aftenpiller", "2026-12-03T21:55")
    for minute in range(5, 15):  # 21:55 said; its repeats at 22:00 and 22:05 fall in quiet hours
        clock.set(utc("2026-12-03T21:50") + timedelta(minutes=minute))
        desk.round()
    assert desk.said == [(1, 1)]
    clock.set(utc("2026-12-04T00:00"))  # more than two hours without its repeat: of no use any more
    desk.round()
    assert desk.states() == ["missed"]
    clock.set(utc("2026-12-04T07:00"))
    assert desk.round() == [] and desk.said == [(1, 1)]


def test_a_device_switched_on_in_quiet_hours_keeps_the_evenings_reminder_quiet(tmp_path: Path) -> None:
    clock = ManualClock(utc("2026-12-03T21:00"))
    with Database(tmp_path) as database:
        Desk(database, clock, SchedulerOptions()).book.create("luk døren", "2026-12-03T21:45")
    clock.set(utc("2026-12-03T23:15"))  # power back at 23:15
    with Database(tmp_path) as database:
        desk = Desk(database, clock, SchedulerOptions())
        assert desk.round() == []
        clock.set(utc("2026-12-03T23:46"))
        desk.round()
        assert desk.states() == ["missed"] and desk.said == []


def test_a_group_chosen_after_its_lead_time_is_mentioned_once_halfway(database: Database) -> None:
    clock = ManualClock(utc("2026-12-02T13:20"))
    desk = Desk(database, clock, SchedulerOptions())
    seed_catalogue(database.engine, load_catalogue(DIALOGS, "da"), "da")
    desk.book.create("Læseklubben", "2026-12-02T14:00", group_id="laesegruppe-valby")
    clock.set(utc("2026-12-02T13:39"))
    assert desk.round() == []
    clock.set(utc("2026-12-02T13:40"))
    assert [(o.lead, o.attempts) for o in desk.round()] == [("before", 1)]


def test_a_failing_chore_never_costs_a_reminder(database: Database) -> None:
    clock = ManualClock(utc("2026-12-03T09:59"))
    desk = Desk(database, clock)

    def full_disk(_now: datetime) -> None:
        raise StoreError("Could not write a snapshot of the database: disk full.")

    desk.scheduler.chores = [full_disk]
    desk.book.create("tag medicinen", "2026-12-03T10:00")
    clock.set(utc("2026-12-03T10:00"))
    assert [o.attempts for o in desk.round()] == [1]


def test_a_scheduler_thread_that_ended_by_itself_is_told_apart_from_one_closed(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(database, ManualClock(utc("2026-12-03T09:00")))
    assert not desk.scheduler.stopped_unexpectedly  # not started: nothing to miss
    monkeypatch.setattr(desk.scheduler, "_run", lambda: None)  # a thread that ends on its own (a bug)
    desk.scheduler.start()
    assert desk.scheduler._thread is not None
    desk.scheduler._thread.join(5)
    assert desk.scheduler.stopped_unexpectedly  # the device loop then stops feeding systemd's watchdog
    desk.scheduler.close()
    assert not desk.scheduler.stopped_unexpectedly
