"""The device loop of `companion run`: button and microphone in, turns out.

One thread owns the endpointer and reads a single inbox, into which the button's callbacks and the
microphone reader put their events in the order they happen. So a button event is stamped with the audio
time of the microphone blocks before it, turn-taking never reads a clock, and a press while the
companion speaks reaches the player at once.
"""

from __future__ import annotations

import logging
import queue
import threading

from companion.engines import Engines
from companion.errors import CompanionError
from companion.events import (
    AudioChunk,
    AudioStop,
    ButtonDown,
    ButtonUp,
    Event,
    ListeningStarted,
    ListenMode,
    StageError,
    Transcript,
    Utterance,
)
from companion.observers import ObserverHub
from companion.pipeline import TurnPlayer
from companion.settings import Settings
from companion.stages.endpoint import Endpointer
from hardware.base import AudioSource, LightPattern
from hardware.factory import Hardware

log = logging.getLogger(__name__)

_POLL_S = 0.25
"""How often an idle loop looks at the stop flag. Not a turn-taking timer: turns run on audio time."""


class DeviceLoop:
    def __init__(
        self, settings: Settings, hardware: Hardware, engines: Engines, observers: ObserverHub
    ) -> None:
        self._settings = settings
        self._hardware = hardware
        self._engines = engines
        self._observers = observers
        self._inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._player = TurnPlayer(engines.pipeline(), hardware.sink, observers, settings.speech.earcon)
        self._swallow_release = False
        self._microphone_error: CompanionError | None = None

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving and end a turn under way, so the models can be closed safely afterwards."""
        self._stop.set()
        if self._player.busy:
            self._player.interrupt()
        if not self._player.wait(timeout):
            log.error("a turn did not end within %.0f s of being interrupted", timeout)

    def run(self) -> None:
        """Serve turns until stopped, or until a finite source (a WAV file, typed text) runs out.

        A microphone that fails ends the loop with its AudioDeviceError (after the light shows it).
        """
        self._hardware.light.show(LightPattern.IDLE)
        if self._hardware.source is None:
            self._run_typed()
            return
        self._hardware.button.when_pressed = lambda: self._inbox.put(ButtonDown())
        self._hardware.button.when_released = lambda: self._inbox.put(ButtonUp())
        reader = threading.Thread(target=self._read_microphone, args=(self._hardware.source,), daemon=True)
        reader.start()
        self._serve_inbox()
        self._player.wait()
        if self._microphone_error is not None:
            raise self._microphone_error

    def _run_typed(self) -> None:
        text_input = self._hardware.text_input
        assert text_input is not None, "simulated hardware without a microphone always has typed input"
        while not self._stop.is_set():
            line = text_input.read_line("> ")
            if line is None:
                break
            if line.strip():
                self._player.start_turn(Transcript(line.strip(), self._engines.language))
                self._player.wait()

    def _read_microphone(self, source: AudioSource) -> None:
        try:
            while not self._stop.is_set():
                block = source.read()
                if not block:
                    break
                self._inbox.put(AudioChunk(block, source.rate))
        except CompanionError as error:
            log.error("the microphone failed: %s", error.message)
            self._microphone_error = error
            self._observers.publish(StageError("audio", error.code, error.message))
        finally:
            self._inbox.put(AudioStop())

    def _serve_inbox(self) -> None:
        endpointer = Endpointer(self._settings.listening, self._speech_probability)
        while not self._stop.is_set():
            try:
                event = self._inbox.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if isinstance(event, AudioStop):
                for out in endpointer.end_of_stream():
                    self._on_endpoint(out)
                return
            if not self._button_for_player(event):
                for out in endpointer.process(event):
                    self._on_endpoint(out)

    def _button_for_player(self, event: Event) -> bool:
        """A press while a turn runs interrupts it; that press and its release are not a new turn."""
        if isinstance(event, ButtonDown) and self._player.busy:
            self._player.interrupt()
            self._swallow_release = True
            return True
        if isinstance(event, ButtonUp) and self._swallow_release:
            self._swallow_release = False
            return True
        return False

    def _on_endpoint(self, event: Event) -> None:
        self._observers.publish(event)
        if isinstance(event, ListeningStarted) and event.mode is ListenMode.HANDS_FREE and self._engines.vad:
            self._engines.vad.reset()  # the detector's memory of an earlier turn must not end this one
        elif isinstance(event, Utterance):
            self._player.start_turn(event)

    def _speech_probability(self, frame: bytes) -> float:
        vad = self._engines.vad
        if vad is None:
            raise RuntimeError("hands-free listening needs the voice activity detector")
        return vad(frame)
