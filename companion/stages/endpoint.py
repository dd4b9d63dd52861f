"""Endpointing: when does the person start and stop talking?

A pure state machine fed audio and button events in stream order. It measures time only by counting
samples (audio time), never by reading a clock, so the same input always gives the same turns
(Home Assistant's assist_pipeline/vad.py works the same way).

- Hold to talk: press, speak, release. The release *is* the end of speech: no silence wait.
- Tap: a press shorter than `tap_max_ms` starts a hands-free turn that `silence_end_ms` of silence after
  speech ends (or a second press). Nobody speaking within `no_speech_timeout_ms` ends it empty.
- Anything longer than `max_utterance_ms` is cut there and processed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum, auto

from companion.events import (
    CAPTURE_RATE,
    SAMPLE_WIDTH,
    AudioChunk,
    ButtonDown,
    ButtonUp,
    EndReason,
    Event,
    ListeningStarted,
    ListenMode,
    Utterance,
)
from companion.settings import ListeningSettings

SpeechProbability = Callable[[bytes], float]


class _State(Enum):
    IDLE = auto()
    HELD = auto()
    HANDS_FREE = auto()
    WAIT_RELEASE = auto()
    """The utterance already ended (cut at max length) while the button is still down."""


class Endpointer:
    def __init__(self, settings: ListeningSettings, speech_probability: SpeechProbability) -> None:
        self._settings = settings
        self._speech_probability = speech_probability
        self._state = _State.IDLE
        self._now_ms = 0
        self._pressed_ms = 0
        self._audio = bytearray()
        self._heard_speech = False
        self._silence_ms = 0

    @property
    def listening(self) -> bool:
        return self._state in (_State.HELD, _State.HANDS_FREE)

    def process(self, event: Event) -> Iterator[Event]:
        if isinstance(event, AudioChunk):
            yield from self._on_audio(event)
        elif isinstance(event, ButtonDown):
            yield from self._on_down()
        elif isinstance(event, ButtonUp):
            yield from self._on_up()
        else:
            yield event

    def end_of_stream(self) -> Iterator[Event]:
        """The audio stream ended (a WAV file ran out): whatever was being heard is the utterance."""
        if self.listening:
            self._state = _State.IDLE
            yield self._finish(EndReason.RELEASE)

    def _on_down(self) -> Iterator[Event]:
        if self._state is _State.IDLE:
            self._state = _State.HELD
            self._pressed_ms = self._now_ms
            self._audio.clear()
            yield ListeningStarted(ListenMode.PUSH_TO_TALK, self._now_ms)
        elif self._state is _State.HANDS_FREE:
            # A press during a hands-free turn means "I am done": end it now, then wait for the release.
            yield self._finish(EndReason.RELEASE)
            self._state = _State.WAIT_RELEASE

    def _on_up(self) -> Iterator[Event]:
        if self._state is _State.HELD:
            if self._now_ms - self._pressed_ms < self._settings.tap_max_ms:
                self._state = _State.HANDS_FREE
                self._heard_speech = False
                self._silence_ms = 0
                yield ListeningStarted(ListenMode.HANDS_FREE, self._now_ms)
            else:
                self._state = _State.IDLE
                yield self._finish(EndReason.RELEASE)
        elif self._state is _State.WAIT_RELEASE:
            self._state = _State.IDLE

    def _on_audio(self, chunk: AudioChunk) -> Iterator[Event]:
        self._now_ms += chunk.samples * 1000 // CAPTURE_RATE
        if self._state not in (_State.HELD, _State.HANDS_FREE):
            return
        self._audio += chunk.audio
        if self._state is _State.HANDS_FREE:
            ended = self._hands_free_step(chunk)
            if ended is not None:
                yield self._finish(ended)
                self._state = _State.IDLE
                return
        if len(self._audio) >= self._settings.max_utterance_ms * CAPTURE_RATE // 1000 * SAMPLE_WIDTH:
            yield self._finish(EndReason.MAX_LENGTH)
            self._state = _State.WAIT_RELEASE if self._state is _State.HELD else _State.IDLE

    def _hands_free_step(self, chunk: AudioChunk) -> EndReason | None:
        chunk_ms = chunk.samples * 1000 // CAPTURE_RATE
        if self._speech_probability(chunk.audio) >= self._settings.vad_threshold:
            self._heard_speech = True
            self._silence_ms = 0
            return None
        self._silence_ms += chunk_ms
        if self._heard_speech and self._silence_ms >= self._settings.silence_end_ms:
            return EndReason.SILENCE
        if not self._heard_speech and self._silence_ms >= self._settings.no_speech_timeout_ms:
            return EndReason.NO_SPEECH
        return None

    def _finish(self, reason: EndReason) -> Utterance:
        limit = self._settings.max_utterance_ms * CAPTURE_RATE // 1000 * SAMPLE_WIDTH
        audio = b"" if reason is EndReason.NO_SPEECH else bytes(self._audio[:limit])
        self._audio.clear()
        return Utterance(audio=audio, rate=CAPTURE_RATE, reason=reason, end_ms=self._now_ms)
