"""Speech to text with faster-whisper: int8, beam 1 by default, the language forced, silence trimmed.

Leading and trailing silence is cut with the Silero VAD before encoding: it shortens what the encoder and
decoder must chew, and an utterance with no speech at all never reaches Whisper (which would otherwise
happily hallucinate a sentence out of room noise).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from companion.errors import MissingPackageError, ModelError, SttError
from companion.events import CAPTURE_RATE, Event, Transcript, Utterance

log = logging.getLogger(__name__)

_TIMESTAMPS_FROM_S = 20.0
"""From this length on, Whisper decodes with timestamps: without them, a window near 30 s comes back
empty or as repeated phrases (measured with tiny.en), while short turns are faster without."""

_PAD_MS = 200
"""Silence kept around the speech: Whisper clips the first phoneme when audio starts abruptly."""


def trim_silence(audio: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The stretch from the first to the last detected speech (padded); empty when there is none."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=threshold, min_silence_duration_ms=500, speech_pad_ms=_PAD_MS)
    spans = get_speech_timestamps(audio, options, sampling_rate=CAPTURE_RATE)
    if not spans:
        return audio[:0]
    return audio[spans[0]["start"] : spans[-1]["end"]]


def mean_log_probability(segments: list[Any]) -> float:
    """Whisper's own confidence in what it wrote: the segments' average token log-probabilities, weighted by
    their length in words (0.0 when nothing was written)."""
    weights = [max(1, len(segment.text.split())) for segment in segments]
    if not weights:
        return 0.0
    total = sum(
        float(segment.avg_logprob) * weight for segment, weight in zip(segments, weights, strict=True)
    )
    return total / sum(weights)


@dataclass(frozen=True)
class SttOptions:
    model_path: Path
    language: str
    beam_size: int = 1
    threads: int = 0
    initial_prompt: str = ""
    vad_threshold: float = 0.5
    unsure_below: float = -0.85
    """Below this mean log-probability per token the words are heard unsurely, and the companion asks."""


def speech_in(audio: bytes, vad_threshold: float) -> np.ndarray:
    """An utterance's 16-bit samples as floats, silence trimmed: empty when there is no speech at all."""
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
    return trim_silence(samples, vad_threshold) if samples.size else samples


def not_loaded(path: Path, error: Exception) -> ModelError:
    return ModelError(
        f"The speech recognition model in {path} could not be loaded ({error}).",
        "companion models verify, then companion models install",
    )


class Transcriber(Protocol):
    """A recogniser the device can use: faster-whisper (below) or sherpa-onnx (stt_sherpa.py)."""

    options: SttOptions
    hotwords: str

    def start(self) -> None: ...

    def transcribe(self, audio: bytes) -> Transcript: ...

    def close(self) -> None: ...


class WhisperTranscriber:
    def __init__(self, options: SttOptions) -> None:
        self.options = options
        self._model: Any = None
        self.hotwords = ""
        """Names and phrases the recogniser is nudged toward (stages/hints.py): the groups, places and
        relatives of this household. Replaced whole when they change; read at each turn."""

    def start(self) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as error:
            raise MissingPackageError("faster_whisper", "faster-whisper") from error
        path = self.options.model_path
        if not (path / "model.bin").is_file():
            raise ModelError(
                f"The speech recognition model is missing: {path / 'model.bin'}",
                "companion models install",
            )
        try:
            self._model = WhisperModel(
                str(path), device="cpu", compute_type="int8", cpu_threads=self.options.threads
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise not_loaded(path, error) from error

    def transcribe(self, audio: bytes) -> Transcript:
        if self._model is None:
            self.start()
        speech = speech_in(audio, self.options.vad_threshold)
        if speech.size == 0:
            return Transcript("", self.options.language)
        try:
            segments, _info = self._model.transcribe(
                speech,
                language=self.options.language,
                beam_size=self.options.beam_size,
                # One temperature: the fallback ladder can cost seconds on a Pi for no gain in a short turn.
                temperature=0.0,
                without_timestamps=speech.size < _TIMESTAMPS_FROM_S * CAPTURE_RATE,
                condition_on_previous_text=False,
                initial_prompt=self.options.initial_prompt or None,
                hotwords=self.hotwords or None,
                vad_filter=False,
            )
            heard = list(segments)
            text = " ".join(segment.text.strip() for segment in heard).strip()
        except RuntimeError as error:
            raise SttError(f"Speech recognition failed: {error}") from error
        confidence = mean_log_probability(heard)
        log.debug(
            "heard %d ms of speech as %d characters (log-probability %.2f)",
            speech.size * 1000 // CAPTURE_RATE,
            len(text),
            confidence,
        )
        return Transcript(text, self.options.language, sure=confidence >= self.options.unsure_below)

    def close(self) -> None:
        self._model = None


class SttStage:
    """Utterance → Transcript; everything else passes through."""

    def __init__(self, transcriber: Transcriber) -> None:
        self._transcriber = transcriber

    def process(self, event: Event) -> Iterator[Event]:
        if isinstance(event, Utterance):
            yield self._transcriber.transcribe(event.audio)
        else:
            yield event
