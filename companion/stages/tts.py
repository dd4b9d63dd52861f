"""Text to speech with piper: the voice loaded once, one synthesis per clause, and the earcon.

Piper yields one chunk per sentence; the loop re-slices it into short blocks so an interrupt can silence
the speaker within a block's length.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from companion.errors import MissingPackageError, ModelError, TtsError
from companion.events import AudioChunk, AudioStart, AudioStop, Clause, Event, ReplyDone

log = logging.getLogger(__name__)

BLOCK_MS = 40
"""Playback granularity: the longest an interrupt waits for the speaker to fall silent."""

# Letters, digits, spaces and the punctuation that shapes intonation; emoji, symbols and markup are dropped
# rather than spelled out, since a voice saying "asterisk" or a garbled emoji name helps nobody.
_KEEP_CATEGORIES = ("L", "N", "Z")
_KEEP_PUNCTUATION = set(".,!?;:'-()\"«»%")


def speakable(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in _KEEP_CATEGORIES or char in _KEEP_PUNCTUATION:
            kept.append(" " if category[0] == "Z" else char)
        elif char in "\n\t":
            kept.append(" ")
    return " ".join("".join(kept).split())


def earcon(rate: int, volume: float = 1.0) -> bytes:
    """A soft two-note chime (about 0.15 s) that says "I heard you" the moment the button is released.

    Generated, not a file: it plays at the voice's rate so it joins the reply's stream without a device
    reopen, which is what keeps it inside 100 ms.
    """
    return _notes(rate, ((880.0, 0.07), (1320.0, 0.08)), volume)


def reminder_chime(rate: int, volume: float = 1.0) -> bytes:
    """Three slower, rising notes (about 1 s) before a reminder: unlike the earcon, so the person knows the
    companion speaks on its own and is not answering."""
    return _notes(rate, ((660.0, 0.3), (880.0, 0.3), (1100.0, 0.45)), volume)


def _notes(rate: int, notes: tuple[tuple[float, float], ...], volume: float) -> bytes:
    parts = []
    for frequency, seconds in notes:
        t = np.arange(int(rate * seconds)) / rate
        envelope = np.sin(np.pi * t / seconds) ** 2
        parts.append(np.sin(2 * math.pi * frequency * t) * envelope)
    tone = np.concatenate(parts) * 0.25 * min(volume, 1.5)
    return (np.clip(tone, -1.0, 1.0) * 32767).astype(np.int16).tobytes()


_SPEED_STEP = 0.12
_VOLUME_STEP = 0.25


@dataclass(frozen=True)
class TtsOptions:
    model_path: Path
    length_scale: float = 1.0
    volume: float = 1.0


class PiperSynthesizer:
    def __init__(self, options: TtsOptions) -> None:
        self.options = options
        self.base = options
        """The settings' speed and loudness, which the person's requests step away from."""
        self._voice: Any = None
        self._config: Any = None

    @property
    def rate(self) -> int:
        if self._voice is None:
            self.start()
        return int(self._voice.config.sample_rate)

    def start(self) -> None:
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError as error:
            raise MissingPackageError("piper", "piper-tts") from error
        path = self.options.model_path
        for needed in (path, Path(f"{path}.json")):
            if not needed.is_file():
                raise ModelError(f"The voice file is missing: {needed}", "companion models install")
        # PiperVoice.load() keeps onnxruntime's memory arena, which grows by ~80 MB over the first replies
        # and never gives it back; on a 4 GB Pi that memory belongs to the LLM. Without it synthesis is
        # about as fast (benchmarks/RESULTS.md).
        options = onnxruntime.SessionOptions()
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        try:
            config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
            session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own unrelated exception types for bad files
            raise ModelError(
                f"The voice in {path} could not be loaded ({error}).",
                "companion models verify, then companion models install",
            ) from error
        self._voice = PiperVoice(session=session, config=config)
        self._configure()

    def _configure(self) -> None:
        from piper import SynthesisConfig

        self._config = SynthesisConfig(length_scale=self.options.length_scale, volume=self.options.volume)

    def tune(self, length_scale_step: int, volume_step: int) -> None:
        """Slower/faster and louder/quieter by steps from the settings' values, as the person asks.
        A step is 12 % of speed and 25 % of loudness: enough to hear, small enough to come back from."""
        length_scale = self.base.length_scale * (1 + _SPEED_STEP) ** length_scale_step
        volume = self.base.volume * (1 + _VOLUME_STEP) ** volume_step
        self.options = replace(self.options, length_scale=length_scale, volume=volume)
        if self._voice is not None:
            self._configure()

    def synthesize(self, text: str) -> Iterator[bytes]:
        """int16 PCM at `rate`, in blocks of BLOCK_MS."""
        if self._voice is None:
            self.start()
        text = speakable(text)
        if not text:
            return
        block_bytes = self.rate * BLOCK_MS // 1000 * 2
        try:
            for chunk in self._voice.synthesize(text, self._config):
                audio = chunk.audio_int16_bytes
                for start in range(0, len(audio), block_bytes):
                    yield audio[start : start + block_bytes]
        except Exception as error:  # onnxruntime's errors share no base class narrower than Exception
            raise TtsError(f"Speech synthesis failed: {error}") from error

    def close(self) -> None:
        self._voice = None


class TtsStage:
    """Clause → AudioChunk… at the voice's rate, framed by AudioStart/AudioStop per reply."""

    def __init__(self, synthesizer: PiperSynthesizer) -> None:
        self._synthesizer = synthesizer
        self._open = False
        self._written_ms = 0

    def process(self, event: Event) -> Iterator[Event]:
        if isinstance(event, Clause):
            rate = self._synthesizer.rate
            if not self._open:
                self._open = True
                self._written_ms = 0
                yield AudioStart(rate)
            for block in self._synthesizer.synthesize(event.text):
                chunk = AudioChunk(block, rate, self._written_ms)
                self._written_ms += chunk.duration_ms
                yield chunk
            yield event
        elif isinstance(event, ReplyDone):
            if self._open:
                self._open = False
                yield AudioStop(self._written_ms)
            yield event
        else:
            yield event
