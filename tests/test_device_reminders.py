"""Done-when of the reminders issue, on simulated hardware: a reminder made by voice is spoken at its time
(chime, light, attribution), a gpiozero mock button acknowledges it, and the state survives a restart."""

from __future__ import annotations

import io
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gpiozero.pins.mock import MockFactory
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from companion.content import load_persona, load_phrases
from companion.device import DeviceLoop
from companion.engines import Engines
from companion.events import Clause, DeviceFault, Event, ReminderWaiting, TurnDone
from companion.llm import LlamaChat, LlmOptions
from companion.mind.build import assemble_mind, load_catalogue, utc_clock
from companion.mind.catalogue import Catalogue
from companion.mind.memory import MemoryStore
from companion.mind.understand import load_language
from companion.observers import ObserverHub
from companion.reminders.book import ReminderBook
from companion.reminders.delivery import ReminderDesk
from companion.reminders.ledger import Ledger
from companion.reminders.recurrence import local
from companion.reminders.scheduler import Scheduler
from companion.settings import Settings
from companion.stages.tts import PiperSynthesizer, TtsOptions
from companion.store.catalogue import seed_catalogue
from companion.store.database import Database
from companion.store.schema import occurrences
from hardware.button import GpioButton
from hardware.factory import Hardware
from hardware.light import ConsoleLight
from hardware.simulated import TypedTextInput
from hardware.wav import MemorySink

from clocks import ManualClock, utc
from minds import MONDAY_MORNING

DIALOGS = Path(__file__).parent.parent / "dialogs"


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, found: Callable[[list[Event]], bool], timeout: float = 20.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: found(self.events), timeout), self.said()

    def said(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Clause)]


def engines_on(database: Database, clock: ManualClock, gguf: Path, voice: Path) -> Engines:
    chat = LlamaChat(
        LlmOptions(gguf, "base", context_tokens=2048, max_reply_tokens=5, prompt_tokens=1500, seed=1),
        load_persona(DIALOGS, "en"),
    )
    catalogue = load_catalogue(DIALOGS, "en")
    seed_catalogue(database.engine, catalogue, "en")

    def mind_clock() -> object:
        return local(clock.now()).replace(tzinfo=MONDAY_MORNING.tzinfo)

    mind = assemble_mind(
        DIALOGS,
        "en",
        Catalogue(catalogue.groups),
        MemoryStore(),
        mind_clock,  # type: ignore[arg-type]
        reminders=ReminderBook(database.engine, utc_clock(mind_clock)),  # type: ignore[arg-type]
    )
    return Engines(
        None, chat, PiperSynthesizer(TtsOptions(voice)), None, load_phrases(DIALOGS, "en"), "en", mind
    )


class RunningDevice:
    """The device loop with typed input, a mock GPIO button, the real scheduler and database, on a clock
    the test moves."""

    def __init__(self, directory: Path, clock: ManualClock, gguf: Path, voice: Path) -> None:
        self.clock = clock
        self.database = Database(directory).open()
        self.engines = engines_on(self.database, clock, gguf, voice)
        self.ledger = Ledger(self.database.engine)
        self.scheduler = Scheduler(ReminderBook(self.database.engine, clock.now), self.ledger, clock)
        desk = ReminderDesk(
            self.scheduler.book,
            self.ledger,
            self.scheduler,
            self.engines.phrases,
            load_language(DIALOGS, "en").time_words,
            self.engines.mind.rules.catalogue.group,
        )
        typed_in, typed_out = os.pipe()
        self.sink = MemorySink()
        self.hardware = Hardware(
            button=GpioButton(17, 0),
            light=ConsoleLight(io.StringIO()),
            source=None,
            sink=self.sink,
            text_input=TypedTextInput(os.fdopen(typed_in, "r"), io.StringIO()),
            simulated=True,
            description="test",
        )
        self.recorder = Recorder()
        self.loop = DeviceLoop(Settings(), self.hardware, self.engines, ObserverHub([self.recorder]), desk)
        self._typing = os.fdopen(typed_out, "w")
        self._runner = threading.Thread(target=self.loop.run, daemon=True)

    def __enter__(self) -> RunningDevice:
        self.engines.start()
        self.hardware.start()
        self.scheduler.start()
        self._runner.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._typing.close()  # the end of typed input ends the loop
        self._runner.join(10)
        self.scheduler.close()
        self.hardware.close()
        self.engines.close()
        self.database.close()
        assert not self._runner.is_alive()

    def type_line(self, text: str) -> None:
        """Say something (typed) and wait for the reply to end."""
        done = self._turns_done()
        self._typing.write(text + "\n")
        self._typing.flush()
        self.recorder.wait_for(lambda _events: self._turns_done() > done)

    def _turns_done(self) -> int:
        return sum(isinstance(e, TurnDone) for e in self.recorder.events)

    def reminder_said(self, words: str) -> bool:
        return any(words in line for line in self.recorder.said())

    def wait_until_spoken(self) -> None:
        """The player's thread marks a reminder spoken just after its TurnDone."""
        deadline = time.monotonic() + 10
        while not self.ledger.in_state("delivered") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.ledger.in_state("delivered"), "the reminder was never marked spoken"


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
