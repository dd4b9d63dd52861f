"""The speech loop's turn: Utterance → STT → dialog → clause chunker → TTS → speaker.

`Pipeline` chains the stages lazily, so the first clause is synthesised while the LLM is still
generating. `TurnPlayer` pulls a turn's events on a worker thread and writes its audio to the sink;
`interrupt()` silences the sink at once and the worker then closes the stage chain, which closes every
generator upstream of it (the LLM stream included): everything downstream of the button is flushed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
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
from companion.stages.stt import SttStage, WhisperTranscriber
from companion.stages.tts import PiperSynthesizer, TtsStage, earcon
from hardware.base import AudioSink

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    transcriber: WhisperTranscriber | None
    dialog: Dialog
    synthesizer: PiperSynthesizer
    phrases: Phrases

    def turn(self, start: Utterance | Transcript) -> Iterator[Event]:
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

    def speak(self, text: str) -> Iterator[Event]:
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
        self._thread: threading.Thread | None = None
        self._earcon: bytes | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

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
        self._thread = threading.Thread(target=self._run, args=(start,), name="turn", daemon=True)
        self._thread.start()

    def interrupt(self) -> None:
        self._cancelled.set()
        self._sink.stop()
        # A block the worker wrote between its check and our stop() is dropped by a second stop under the
        # lock it writes with.
        with self._write_lock:
            self._sink.stop()
        self._observers.publish(Interrupt())

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, start: Utterance | Transcript) -> None:
        try:
            completed = self._play(self._pipeline.turn(start))
        except CompanionError as error:
            log.error("turn failed: [%s] %s", error.code, error.message)
            self._observers.publish(StageError(error.code.split(".")[0], error.code, error.message))
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

    def _play(self, events: Iterator[Event]) -> bool:
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
            close = getattr(events, "close", None)
            if close is not None:
                close()
