"""Done-when of the reminders issue, on simulated hardware: a reminder made by voice is spoken at its time
(chime, light, attribution), a gpiozero mock button acknowledges it, and the state survives a restart."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from companion.content import load_persona, load_phrases
from companion.device import DeviceLoop
from companion.engines import Engines
from companion.events import Clause, Event, ReminderWaiting, TurnDone
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
from hardware.button import GpioButton
from hardware.factory import Hardware
from hardware.light import ConsoleLight
from hardware.simulated import TypedTextInput
from hardware.wav import MemorySink

from clocks import ManualClock, utc
from minds import MONDAY_MORNING

DIALOGS = Path(__file__).parent.parent / "dialogs"


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


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


def test_a_voice_reminder_is_spoken_on_time_acknowledged_by_the_button_and_survives_a_restart(
    pins: MockFactory, tiny_gguf: Path, tiny_piper_voice: Path, tmp_path: Path
) -> None:
    clock = ManualClock(utc("2026-03-02T09:00"))
    database = Database(tmp_path).open()
    engines = engines_on(database, clock, tiny_gguf, tiny_piper_voice)
    engines.start()
    ledger = Ledger(database.engine)
    scheduler = Scheduler(ReminderBook(database.engine, clock.now), ledger, clock)
    desk = ReminderDesk(
        scheduler.book,
        ledger,
        scheduler,
        engines.phrases,
        load_language(DIALOGS, "en").time_words,
        engines.mind.rules.catalogue.group,
    )
    typed_in, typed_out = os.pipe()
    sink = MemorySink()
    hardware = Hardware(
        button=GpioButton(17, 0),
        light=ConsoleLight(io.StringIO()),
        source=None,
        sink=sink,
        text_input=TypedTextInput(os.fdopen(typed_in, "r"), io.StringIO()),
        simulated=True,
        description="test",
    )
    recorder = Recorder()
    loop = DeviceLoop(Settings(), hardware, engines, ObserverHub([recorder]), desk)
    hardware.start()
    scheduler.start()
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    typing = os.fdopen(typed_out, "w")

    def type_line(text: str) -> None:
        done = sum(isinstance(e, TurnDone) for e in recorder.events)
        typing.write(text + "\n")
        typing.flush()
        recorder.wait_for(lambda events: sum(isinstance(e, TurnDone) for e in events) > done)

    try:
        type_line("Remind me to call Tom today at 10.")
        type_line("Yes.")
        assert [r.text for r in scheduler.book.all()] == ["to call Tom"]
        clock.set(utc("2026-03-02T09:59"))
        time.sleep(0.3)
        assert not any("You asked me" in line for line in recorder.said())  # not a minute early

        clock.set(utc("2026-03-02T10:00"))
        recorder.wait_for(
            lambda _: any("You asked me to remind you to call Tom." in s for s in recorder.said())
        )
        recorder.wait_for(lambda events: isinstance(events[-1], TurnDone))
        # Marked spoken by the player's thread just after its TurnDone.
        deadline = time.monotonic() + 10
        while not ledger.in_state("delivered") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [o.attempts for o in ledger.in_state("delivered")] == [1]
        assert ReminderWaiting(True) in recorder.events  # the light showed it, and still does

        pins.pin(17).drive_low()  # the mock GPIO button: pressed …
        pins.pin(17).drive_high()  # … and let go
        recorder.wait_for(lambda _: recorder.said()[-2:] == ["Good.", "Thank you."])
        assert [o.state for o in ledger.in_state("acknowledged")] == ["acknowledged"]
        assert recorder.events.count(ReminderWaiting(False)) == 1
        reminder_streams = [audio for _rate, audio in sink.streams]
        assert len(reminder_streams) >= 3  # two replies, the reminder (chime + speech), the thanks
    finally:
        typing.close()
        runner.join(10)
        scheduler.close()
        hardware.close()
        engines.close()
        database.close()
    assert not runner.is_alive()

    clock.set(utc("2026-03-02T10:30"))
    with Database(tmp_path) as reopened:
        again = Scheduler(ReminderBook(reopened.engine, clock.now), Ledger(reopened.engine), clock)
        again.ledger.recover(clock.now())
        again.tick()
        assert again.ready() == []
        assert [(o.state, o.attempts) for o in again.ledger.in_state("acknowledged")] == [("acknowledged", 1)]
