"""Done-when of the reminders issue, on simulated hardware: a reminder made by voice is spoken at its time
(chime, light, attribution), a gpiozero mock button acknowledges it, and the state survives a restart."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from companion.events import DeviceFault, ReminderWaiting
from companion.reminders.book import ReminderBook
from companion.reminders.ledger import Ledger
from companion.reminders.scheduler import Scheduler
from companion.store.database import Database
from companion.store.schema import occurrences

from clocks import ManualClock, utc
from running_device import RunningDevice


def test_a_voice_reminder_is_spoken_on_time_acknowledged_by_the_button_and_survives_a_restart(
    mock_pins: MockFactory, tiny_gguf: Path, tiny_piper_voice: Path, tmp_path: Path
) -> None:
    clock = ManualClock(utc("2026-03-02T09:00"))
    with RunningDevice(tmp_path, clock, tiny_gguf, tiny_piper_voice) as device:
        device.type_line("Remind me to call Tom today at 10.")
        device.type_line("Yes.")
        assert [r.text for r in device.scheduler.book.all()] == ["to call Tom"]
        clock.set(utc("2026-03-02T09:59"))
        time.sleep(0.3)  # several of the loop's rounds
        assert device.scheduler.ready() == [] and not device.reminder_said("You asked me")  # not early

        clock.set(utc("2026-03-02T10:00"))
        device.recorder.wait_for(lambda _: device.reminder_said("You asked me to remind you to call Tom."))
        device.wait_until_spoken()
        assert [o.attempts for o in device.ledger.in_state("delivered")] == [1]
        assert ReminderWaiting(True) in device.recorder.events  # the light showed it, and still does

        mock_pins.pin(17).drive_low()  # the mock GPIO button: pressed …
        mock_pins.pin(17).drive_high()  # … and let go
        device.recorder.wait_for(
            lambda _: device.recorder.said()[-2:] == ["Thank you.", "Now I know you have heard it."]
        )
        assert [o.state for o in device.ledger.in_state("acknowledged")] == ["acknowledged"]
        assert device.recorder.events.count(ReminderWaiting(False)) == 1
        assert len(device.sink.streams) >= 4  # two replies, the reminder (chime and words), the thanks

    clock.set(utc("2026-03-02T10:30"))
    with Database(tmp_path) as reopened:
        again = Scheduler(ReminderBook(reopened.engine, clock.now), Ledger(reopened.engine), clock)
        again.ledger.recover(clock.now())
        again.tick()
        assert again.ready() == []
        assert [(o.state, o.attempts) for o in again.ledger.in_state("acknowledged")] == [("acknowledged", 1)]


def test_a_due_reminder_waits_for_a_pause_after_the_person_spoke_and_a_relatives_is_attributed(
    mock_pins: MockFactory, tiny_gguf: Path, tiny_piper_voice: Path, tmp_path: Path
) -> None:
    clock = ManualClock(utc("2026-03-02T09:59"))
    with RunningDevice(tmp_path, clock, tiny_gguf, tiny_piper_voice) as device:
        device.scheduler.book.create(
            "water the plants", "2026-03-02T10:00", asked_by="relative", asked_by_name="Anne"
        )
        clock.set(utc("2026-03-02T10:00"))
        device.type_line("Hello, how are you?")  # the person talks just as it falls due
        time.sleep(0.5)
        assert not device.reminder_said("Anne asked me")
        clock.advance(seconds=19)
        time.sleep(0.5)  # the loop looks every 0.25 s: it has seen the reminder due, and held it
        assert device.scheduler.ready() != []
        assert not device.reminder_said("Anne asked me")  # a pressed button now would be for talking
        clock.advance(seconds=2)
        device.recorder.wait_for(lambda _: device.reminder_said("Anne asked me to remind you of something:"))
        device.wait_until_spoken()
        clock.advance(minutes=5)  # no press: said again
        device.recorder.wait_for(lambda _: device.reminder_said("I'll say it once more."))
        mock_pins.pin(17).drive_low()
        mock_pins.pin(17).drive_high()
        device.recorder.wait_for(lambda _: device.recorder.said()[-1:] == ["Now I know you have heard it."])
    with Database(tmp_path) as reopened:
        (occurrence,) = Ledger(reopened.engine).in_state("acknowledged")
        assert occurrence.attempts == 2


class FullDisk:
    """Every write the database is asked for fails as SQLite fails on a full disk; reads still work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.full = False
        event.listen(engine, "before_cursor_execute", self._refuse)

    def _refuse(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if self.full and statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            raise OperationalError(statement, None, sqlite3.OperationalError("database or disk is full"))


def test_on_a_full_disk_a_due_reminder_is_still_said_repeated_and_acknowledged(
    mock_pins: MockFactory, tiny_gguf: Path, tiny_piper_voice: Path, tmp_path: Path
) -> None:
    clock = ManualClock(utc("2026-03-02T09:59"))
    with RunningDevice(tmp_path, clock, tiny_gguf, tiny_piper_voice) as device:
        device.scheduler.book.create("take the tablets", "2026-03-02T10:00")
        disk = FullDisk(device.database.engine)
        disk.full = True
        clock.set(utc("2026-03-02T10:00"))
        device.scheduler.poke()
        device.recorder.wait_for(lambda _: device.reminder_said("take the tablets"))
        device.wait_until_spoken()
        device.recorder.wait_for(lambda events: DeviceFault("disk space", missing=True) in events)
        clock.advance(minutes=5)  # no press: said again, from memory
        device.scheduler.poke()
        device.recorder.wait_for(lambda _: device.reminder_said("I'll say it once more."))
        device.wait_until_spoken()
        mock_pins.pin(17).drive_low()
        mock_pins.pin(17).drive_high()
        device.recorder.wait_for(lambda _: device.recorder.said()[-1:] == ["Now I know you have heard it."])
        (held,) = device.ledger.in_state("acknowledged")
        assert held.attempts == 2 and device.ledger.holding  # nothing of it could be written
        with device.database.engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(occurrences)) == 0

        disk.full = False  # space again: what was held is written back, and the light says so
        device.scheduler.poke()
        device.recorder.wait_for(lambda events: DeviceFault("disk space", missing=False) in events)
        assert not device.ledger.holding
        device.scheduler.book.create("call Tom", "2026-03-02T10:30")
        clock.set(utc("2026-03-02T10:30"))
        device.scheduler.poke()
        device.recorder.wait_for(lambda _: device.reminder_said("call Tom"))
    with Database(tmp_path) as reopened:  # a restart: the held reminder is on disk, heard — not said again
        states = [(o.state, o.attempts) for o in Ledger(reopened.engine).in_state("acknowledged", "pending")]
        assert ("acknowledged", 2) in states


def test_held_reminders_are_written_back_and_those_of_deleted_reminders_forgotten(tmp_path: Path) -> None:
    clock = ManualClock(utc("2026-03-02T09:59"))
    with Database(tmp_path) as database:
        book, ledger = ReminderBook(database.engine, clock.now), Ledger(database.engine)
        scheduler = Scheduler(book, ledger, clock)
        kept = book.create("take the tablets", "2026-03-02T10:00")
        gone = book.create("water the plants", "2026-03-02T10:00")
        disk = FullDisk(database.engine)
        disk.full = True
        clock.set(utc("2026-03-02T10:00"))
        scheduler.tick()
        ready = scheduler.ready()
        assert sorted(o.reminder_id for o in ready) == [kept.id, gone.id] and ledger.holding
        claimed = ledger.claim(next(o for o in ready if o.reminder_id == kept.id), clock.now())
        assert claimed is not None and claimed.attempts == 1
        disk.full = False
        book.delete(gone.id)  # deleted while held: not said, not written back
        assert [o.reminder_id for o in ledger.in_state("pending", "delivering")] == [kept.id]
        scheduler.tick()  # the first round that can write: what was held goes to the database
        assert not ledger.holding
        with database.engine.connect() as connection:
            rows = connection.execute(select(occurrences.c.reminder_id, occurrences.c.state)).all()
        assert [tuple(row) for row in rows] == [(kept.id, "delivering")]
