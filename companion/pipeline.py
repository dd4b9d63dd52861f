"""The speech loop's turn: Utterance → STT → dialog → clause chunker → TTS → speaker.

`Pipeline` chains the stages lazily, so the first clause is synthesised while the LLM is still
generating. `TurnPlayer` pulls a turn's events on a worker thread and writes its audio to the sink;
`interrupt()` silences the sink at once and the worker then closes the stage chain, which closes every
generator upstream of it (the LLM stream included): everything downstream of the button is flushed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

from companion.content import Phrases
from companion.errors import CompanionError
from companion.events import (
    AudioChunk,
    Event,
    Interrupt,
    ReplyDelta,
    ReplyDone,
    StageError,
    Transcript,
    TurnDone,
    Utterance,
)
from companion.observers import ObserverHub
from companion.stages import Stage, run_stages
from companion.stages.chunker import ClauseChunker
from companion.stages.dialog import Dialog, DialogStage
from companion.stages.stt import SttStage, Transcriber
from companion.stages.tts import PiperSynthesizer, TtsStage, earcon
from hardware.base import AudioSink

log = logging.getLogger(__name__)

TurnEvents = Generator[Event, None, None]


@dataclass
class Pipeline:
    transcriber: Transcriber | None
    dialog: Dialog
    synthesizer: PiperSynthesizer
    phrases: Phrases

    def turn(self, start: Utterance | Transcript) -> TurnEvents:
        """All events of one turn, lazily. Typed text enters as a Transcript and skips the recogniser."""
        stages: list[Stage] = [
            DialogStage(self.dialog),
            ClauseChunker(self.phrases.abbreviations),
            TtsStage(self.synthesizer),
        ]
        if isinstance(start, Utterance):
            if self.transcriber is None:
                raise CompanionError("Audio arrived, but no speech recogniser is loaded.")
            stages.insert(0, SttStage(self.transcriber))
        return run_stages(stages, [start])

    def speak(self, text: str) -> TurnEvents:
        """A fixed text through the chunker and the voice only: no recogniser, no LLM."""
        stages: list[Stage] = [ClauseChunker(self.phrases.abbreviations), TtsStage(self.synthesizer)]
        return run_stages(stages, [ReplyDelta(text), ReplyDone()])


class TurnPlayer:
    """Plays one turn at a time into the sink, on its own thread, interruptible at any moment."""

    def __init__(self, pipeline: Pipeline, sink: AudioSink, observers: ObserverHub, use_earcon: bool) -> None:
        self._pipeline = pipeline
        self._sink = sink
        self._observers = observers
        self._use_earcon = use_earcon
        self._cancelled = threading.Event()
        self._write_lock = threading.Lock()
        # Our own flag, not Thread.is_alive()/join(): on Python 3.11 a join() cut short by Ctrl-C leaves
        # is_alive() False while the thread still runs, and closing the models under it then crashes.
        self._finished = threading.Event()
        self._finished.set()
        self._earcon: bytes | None = None
        self._started_at = 0.0

    def running_for(self) -> float:
        """Seconds the turn (or announcement) under way has run; 0 when none runs. For the watchdog only:
        turn-taking never reads a clock."""
        return 0.0 if self._finished.is_set() else time.monotonic() - self._started_at

    @property
    def busy(self) -> bool:
        """A turn is under way and has not been interrupted (an interrupted one is only winding down)."""
        return not self._finished.is_set() and not self._cancelled.is_set()

    def start_turn(self, start: Utterance | Transcript) -> None:
        """Begin the reply's audio stream now (earcon first), and run the turn on the worker thread."""
        self.wait()
        self._cancelled.clear()
        rate = self._pipeline.synthesizer.rate
        self._sink.begin(rate)
        if self._use_earcon:
            if self._earcon is None:
                self._earcon = earcon(rate)
            self._sink.write(self._earcon)
        self._started_at = time.monotonic()
        self._finished.clear()
        threading.Thread(target=self._run, args=(start,), name="turn", daemon=True).start()

    def announce(self, text: str, sound: bytes, on_done: Callable[[bool], None]) -> None:
        """Speak a fixed text the companion starts on its own (a reminder), after `sound`.

        `on_done(completed)` runs on the worker once the text has been spoken or was interrupted.
        """
        self.wait()
        self._cancelled.clear()
        self._sink.begin(self._pipeline.synthesizer.rate)
        self._sink.write(sound)
        self._started_at = time.monotonic()
        self._finished.clear()
        threading.Thread(
            target=self._run_announcement, args=(text, on_done), name="announce", daemon=True
        ).start()

    def _run_announcement(self, text: str, on_done: Callable[[bool], None]) -> None:
        completed = False
        try:
            completed = self._play(self._pipeline.speak(text))
        except CompanionError as error:
            log.error("could not speak a reminder: [%s] %s", error.code, error.message)
            self._observers.publish(StageError(error.code.split(".")[0], error.code, error.message))
            self._sink.stop()
        finally:
            if completed:
                self._sink.end()
            self._observers.publish(TurnDone(interrupted=not completed))
            try:
                on_done(completed)
            finally:
                self._finished.set()

    def interrupt(self) -> None:
        self._observers.publish(Interrupt())  # before the worker can publish its TurnDone
        self._cancelled.set()
        self._sink.stop()
        # A block the worker wrote between its check and our stop() is dropped by a second stop under the
        # lock it writes with.
        with self._write_lock:
            self._sink.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the turn under way to end; False if it is still running after `timeout`."""
        return self._finished.wait(timeout)

    def _run(self, start: Utterance | Transcript) -> None:
        try:
            self._run_turn(start)
        finally:
            self._finished.set()

    def _run_turn(self, start: Utterance | Transcript) -> None:
        try:
            completed = self._play(self._pipeline.turn(start))
        except CompanionError as error:
            log.error("turn failed: [%s] %s", error.code, error.message)
            self._observers.publish(StageError(error.code.split(".")[0], error.code, error.message))
            completed = self._apologise()
        except Exception as error:  # a bug or a library's own error type: still end the turn properly
            log.exception("turn failed unexpectedly")
            self._observers.publish(StageError("internal", "internal", str(error)))
            completed = self._apologise()
        if completed:
            self._sink.end()
        self._observers.publish(TurnDone(interrupted=not completed))

    def _apologise(self) -> bool:
        if self._cancelled.is_set():
            return False
        try:
            # Only the chunker and the voice: not the model that has just failed.
            return self._play(self._pipeline.speak(self._pipeline.phrases.say("something_went_wrong")))
        except CompanionError as error:
            # Even the voice failed: the light (error pattern) is all that is left to tell the person.
            log.error("could not say sorry either: [%s] %s", error.code, error.message)
            self._sink.stop()
            return False

    def _play(self, events: TurnEvents) -> bool:
        """True when the turn played to its end, False when it was interrupted."""
        try:
            for event in events:
                if self._cancelled.is_set():
                    return False
                if isinstance(event, AudioChunk):
                    with self._write_lock:
                        if self._cancelled.is_set():
                            return False
                        self._sink.write(event.audio)
                else:
                    self._observers.publish(event)
            return not self._cancelled.is_set()
        finally:
            events.close()  # closes every stage's generator upstream, the LLM stream included
