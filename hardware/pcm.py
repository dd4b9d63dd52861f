"""Small PCM helpers shared by the audio backends and the WAV files: channel mixing and resampling.

Linear interpolation is deliberately simple: it is used for speech only (16 kHz capture, 16–24 kHz voices),
where its slight high-frequency roll-off is inaudible, and it needs nothing beyond numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from companion.events import SAMPLE_WIDTH

Int16Array = npt.NDArray[np.int16]

"""Bytes per sample: every stream in the companion is signed 16-bit little-endian PCM."""


def to_int16(samples: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Int16Array:
    """Round and clip to int16 (averaging and interpolation produce values between integers)."""
    clipped: Int16Array = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    return clipped


def mix_to_mono(frames: npt.NDArray[np.integer]) -> Int16Array:
    """Average the channels of a (samples, channels) array of int16-range integers."""
    if frames.ndim == 1:
        return frames.astype(np.int16)
    return to_int16(frames.astype(np.float64).mean(axis=1))


def resample(samples: Int16Array, from_rate: int, to_rate: int) -> Int16Array:
    """Resample a whole buffer (a WAV file) by linear interpolation."""
    if from_rate == to_rate or len(samples) == 0:
        return samples
    count = round(len(samples) * to_rate / from_rate)
    positions = np.arange(count, dtype=np.float64) * (from_rate / to_rate)
    return to_int16(np.interp(positions, np.arange(len(samples)), samples.astype(np.float64)))


class StreamResampler:
    """Resamples a stream block by block with no click at the block boundaries.

    It carries the last input sample and the fractional read position over to the next block, so the
    output is the same as resampling the whole stream at once.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._step = from_rate / to_rate
        # Position of the next output sample, counted in input samples from the carried-over sample.
        self._position = 0.0
        self._last: float | None = None

    def process(self, samples: Int16Array) -> Int16Array:
        if self.from_rate == self.to_rate:
            return samples
        values = samples.astype(np.float64)
        if self._last is not None:
            values = np.concatenate(([self._last], values))
        if len(values) == 0:
            return np.zeros(0, dtype=np.int16)
        end = len(values) - 1
        count = 0 if self._position > end else int(np.floor((end - self._position) / self._step)) + 1
        positions = self._position + np.arange(count, dtype=np.float64) * self._step
        out = np.interp(positions, np.arange(len(values)), values)
        self._position = self._position + count * self._step - end
        self._last = float(values[-1])
        return to_int16(out)

    def process_bytes(self, audio: bytes) -> bytes:
        if self.from_rate == self.to_rate:
            return audio
        usable = len(audio) - len(audio) % SAMPLE_WIDTH
        return self.process(np.frombuffer(audio[:usable], dtype="<i2").astype(np.int16)).tobytes()
