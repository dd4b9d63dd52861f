"""The device loop running on a test's clock: typed input, a mock GPIO button, the real scheduler and
database, and a recorder of everything it says (for the reminder and hub tests)."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from companion.content import load_persona, load_phrases
from companion.device import DeviceLoop
from companion.engines import Engines
from companion.events import Clause, Event, TurnDone
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

from clocks import ManualClock
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
