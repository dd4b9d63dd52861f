"""Speech to text with faster-whisper: int8, beam 1 by default, the language forced, silence trimmed.

Leading and trailing silence is cut with the Silero VAD before encoding: it shortens what the encoder and
decoder must chew, and an utterance with no speech at all never reaches Whisper (which would otherwise
happily hallucinate a sentence out of room noise).

A short turn may be encoded in a shorter window than Whisper's 30 s (`[stt] encoder_window_s`): the
encoder's attention grows with the square of its input, so 15 s instead of 30 s halves the time after
speech (benchmarks/ASR.md). The decoder is held to a length the speech could fill, and a phrase it
repeats over and over is cut to one and marked unsure: a looping decoder is Whisper's way of guessing.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from companion.errors import MissingPackageError, ModelError, SettingsError, SttError
from companion.events import CAPTURE_RATE, Event, Transcript, Utterance

log = logging.getLogger(__name__)

_TIMESTAMPS_FROM_S = 20.0
"""From this length on, Whisper decodes with timestamps: without them, a window near 30 s comes back
empty or as repeated phrases (measured with tiny.en), while short turns are faster without."""

_PAD_MS = 200
"""Silence kept around the speech: Whisper clips the first phoneme when audio starts abruptly."""

_FRAMES_PER_S = 100
"""Whisper's log-mel frames per second of audio (a hop of 160 samples at 16 kHz)."""

_WINDOW_FILL = 2 / 3
"""A turn is encoded in the shorter window only when its speech fills at most this share of it: without
timestamps Whisper came back empty or repeating when speech filled most of its window (measured with
tiny.en near 30 s; hence timestamps from 20 s), so the shorter window keeps the same proportion."""

_MAX_TOKENS = (10, 10, 180)
"""The decoder's budget in a short turn: 10 tokens, plus 10 per second of speech (Danish sentences spoken at
espeak-ng's pace take 5 to 6 in Whisper's tokens), at most 180."""

_MAX_LENGTH = 448
"""Whisper's decoder positions: the prompt (hints, initial prompt) and the words it writes share them."""

_LEAST_WINDOW_S = 5.0

_PUNCTUATION = ".,!?;:"

_LOOP_COUNT = 4
"""A phrase of one to four words said this many times in a row is the decoder looping, not the person:
people do say "nej, nej, nej", but rarely four times."""


def trim_silence(audio: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The stretch from the first to the last detected speech (padded); empty when there is none."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=threshold, min_silence_duration_ms=500, speech_pad_ms=_PAD_MS)
    spans = get_speech_timestamps(audio, options, sampling_rate=CAPTURE_RATE)
    if not spans:
        return audio[:0]
    return audio[spans[0]["start"] : spans[-1]["end"]]


def encoder_frames(speech_samples: int, window_s: float) -> int | None:
    """How many mel frames the encoder gets for a turn: the shorter window when the speech fills at most
    two thirds of it, else None (Whisper's own 30 s)."""
    if window_s >= 30 or speech_samples / CAPTURE_RATE > window_s * _WINDOW_FILL:
        return None
    return int(window_s * _FRAMES_PER_S)


def encoder_window(setting: float, language: str) -> float:
    """The window in seconds for `[stt] encoder_window_s`: 0 leaves it to the language. In English 15 s
    heard within a few words of 30 on the sets here (benchmarks/ASR.md); on Danish speech the whole window did
    better on every set measured, though those sets are synthetic and small, so Danish keeps it until
    real voices say otherwise."""
    if setting == 0:
        return 15.0 if language == "en" else 30.0
    if setting < _LEAST_WINDOW_S:
        raise SettingsError(
            f"[stt] encoder_window_s = {setting:g} is too short for Whisper to hear a sentence in.",
            "Use 0 (chosen by the language) or 5 to 30 seconds.",
        )
    return setting


def token_budget(speech_samples: int, prompt_tokens: int = 0) -> int | None:
    """How many tokens the decoder may write for a short turn: enough for the speech, never so many that a
    long-winded guess runs on; None (Whisper's own limit) when the prompt leaves too little room for it."""
    base, per_second, ceiling = _MAX_TOKENS
    budget = min(ceiling, base + int(per_second * speech_samples / CAPTURE_RATE))
    room = _MAX_LENGTH - prompt_tokens - 1
    return min(budget, room) if room >= base else None


def cut_loops(text: str) -> tuple[str, bool]:
    """The text with any phrase repeated _LOOP_COUNT or more times in a row kept once; whether one was.
    Numbers are left alone: "22 22 22 22" is a Danish telephone number, said in pairs."""
    words = text.split()
    plain = [word.strip(_PUNCTUATION).lower() for word in words]
    kept: list[str] = []
    at = 0
    while at < len(words):
        size, repeats = _repeats_at(plain, at)
        if repeats < _LOOP_COUNT:
            kept.append(words[at])
            at += 1
            continue
        # The first copy as written, ended as the last copy ends (its full stop, not a comma).
        first, last = words[at : at + size], words[at + repeats * size - 1]
        ending = last[len(last.rstrip(_PUNCTUATION)) :]
        kept += [*first[:-1], first[-1].rstrip(_PUNCTUATION) + ending]
        at += repeats * size
    looped = len(kept) < len(words)
    return (" ".join(kept).rstrip(",;") if looped else text), looped


def _repeats_at(plain: list[str], at: int) -> tuple[int, int]:
    """The shortest phrase (1 to 4 words) starting at `at` that repeats _LOOP_COUNT times or more in a row,
    and how often; (1, 1) when none does."""
    for size in range(1, 5):
        phrase = plain[at : at + size]
        if len(phrase) < size or any(ch.isdigit() for word in phrase for ch in word):
            break
        repeats = 1
        while plain[at + repeats * size : at + (repeats + 1) * size] == phrase:
            repeats += 1
        if repeats >= _LOOP_COUNT:
            return size, repeats
    return 1, 1


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
    encoder_window_s: float = 30.0
    """A turn whose speech fits is encoded in this many seconds instead of Whisper's 30 (30 = never)."""


def speech_in(audio: bytes, vad_threshold: float) -> np.ndarray:
    """An utterance's 16-bit samples as floats, silence trimmed: empty when there is no speech at all."""
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
    return trim_silence(samples, vad_threshold) if samples.size else samples


def recogniser_threads(options: SttOptions) -> int:
    """The setting, or (0) one per core up to 4: CTranslate2's own default is 4 even on 2 cores, where the
    extra threads gain nothing (benchmarks/ASR.md), and a Pi 5 has 4."""
    return options.threads or min(4, os.cpu_count() or 1)


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
        self._prompt_counted: tuple[str | None, int] = (None, 0)

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
            self._model = _windowed(WhisperModel)(
                str(path), device="cpu", compute_type="int8", cpu_threads=recogniser_threads(self.options)
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise not_loaded(path, error) from error

    def transcribe(self, audio: bytes) -> Transcript:
        if self._model is None:
            self.start()
        speech = speech_in(audio, self.options.vad_threshold)
        if speech.size == 0:
            return Transcript("", self.options.language)
        short = speech.size < _TIMESTAMPS_FROM_S * CAPTURE_RATE
        self._model.encoder_frames = encoder_frames(speech.size, self.options.encoder_window_s)
        try:
            segments, _info = self._model.transcribe(
                speech,
                language=self.options.language,
                beam_size=self.options.beam_size,
                # One temperature: the fallback ladder can cost seconds on a Pi for no gain in a short turn.
                temperature=0.0,
                without_timestamps=short,
                max_new_tokens=token_budget(speech.size, self._prompt_tokens()) if short else None,
                condition_on_previous_text=False,
                initial_prompt=self.options.initial_prompt or None,
                hotwords=self.hotwords or None,
                vad_filter=False,
            )
            heard = list(segments)
        except (RuntimeError, ValueError) as error:
            raise SttError(f"Speech recognition failed: {error}") from error
        text, looped = cut_loops(" ".join(segment.text.strip() for segment in heard).strip())
        confidence = mean_log_probability(heard)
        log.debug(
            "heard %d ms of speech as %d characters (log-probability %.2f%s)",
            speech.size * 1000 // CAPTURE_RATE,
            len(text),
            confidence,
            ", a loop cut" if looped else "",
        )
        sure = confidence >= self.options.unsure_below and not looped
        return Transcript(text, self.options.language, sure=sure)

    def _prompt_tokens(self) -> int:
        """The decoder positions faster-whisper's prompt takes: the hints and the initial prompt (each cut at
        223 tokens, as it cuts them) and a few for the start of the transcript. Counted again only when the
        hints change (a relative paired), not at every turn."""
        if self._prompt_counted[0] != self.hotwords:
            tokenizer = self._model.hf_tokenizer
            texts = (self.hotwords, self.options.initial_prompt)
            count = 6 + sum(min(223, len(tokenizer.encode(" " + text.strip()).ids)) for text in texts if text)
            self._prompt_counted = (self.hotwords, count)
        return self._prompt_counted[1]

    def close(self) -> None:
        self._model = None


@functools.cache
def _windowed(whisper_model: type) -> type:
    """faster-whisper's model, its encoder given only the first `encoder_frames` of the padded 30 s of
    features when set. CTranslate2 takes inputs shorter than 30 s; faster-whisper always pads to 30 s."""

    class WindowedWhisper(whisper_model):  # type: ignore[misc]
        encoder_frames: int | None = None

        def encode(self, features: np.ndarray) -> Any:
            if self.encoder_frames is not None and features.shape[-1] > self.encoder_frames:
                features = features[..., : self.encoder_frames]
            return super().encode(features)

    return WindowedWhisper


class SttStage:
    """Utterance → Transcript; everything else passes through."""

    def __init__(self, transcriber: Transcriber) -> None:
        self._transcriber = transcriber

    def process(self, event: Event) -> Iterator[Event]:
        if isinstance(event, Utterance):
            yield self._transcriber.transcribe(event.audio)
        else:
            yield event
