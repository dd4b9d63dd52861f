"""Audio without a sound card: a WAV file as the microphone, a folder of WAV files or memory as the speaker.

These run the real speech loop on a laptop, in CI and in tests: `WavFileSource` feeds a recorded question
in 16 kHz blocks (and tells the simulated button when to press and release), `WavFolderSink` writes each
reply as `reply-0001.wav`, `reply-0002.wav`…, and `MemorySink` keeps replies for assertions.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from companion.errors import AudioDeviceError
from companion.events import CAPTURE_RATE, SAMPLE_WIDTH
from hardware.base import CAPTURE_BLOCK_SAMPLES
from hardware.pcm import Int16Array, mix_to_mono, resample

log = logging.getLogger(__name__)

_BLOCK_BYTES = CAPTURE_BLOCK_SAMPLES * SAMPLE_WIDTH
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_CONVERT_HINT = "Convert it to 16-bit PCM, e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`."


def _bad_file(path: Path, problem: str) -> AudioDeviceError:
    return AudioDeviceError(f"The WAV file {path} {problem}.", _CONVERT_HINT)


def _riff_chunks(data: bytes, path: Path) -> dict[bytes, bytes]:
    """The first chunk of each kind in a RIFF/WAVE file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _bad_file(path, "is not a WAV file (it has no RIFF/WAVE header)")
    chunks: dict[bytes, bytes] = {}
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        # Slicing clamps to the end of the file: recorders that stream often leave the data size unset.
        chunks.setdefault(kind, data[position + 8 : position + 8 + size])
        position += 8 + size + (size & 1)
    return chunks


def _frames(payload: bytes, channels: int, width: int) -> npt.NDArray[np.int32]:
    """(samples, channels) integers scaled to the int16 range."""
    count = len(payload) // (channels * width)
    raw = np.frombuffer(payload[: count * channels * width], dtype=np.uint8)
    if width == 1:
        values = (raw.astype(np.int32) - 128) << 8
    elif width == 2:
        values = raw.view("<i2").astype(np.int32)
    elif width == 3:
        triples = raw.reshape(-1, 3).astype(np.int32)
        values = (triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)) << 8 >> 16
    else:
        values = raw.view("<i4") >> 16
    return values.astype(np.int32).reshape(count, channels)


def read_wav(path: Path) -> tuple[Int16Array, int]:
    """The mono int16 samples of a PCM WAV file (8, 16, 24 or 32-bit integer, any channels) and its rate."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AudioDeviceError(
            f"Cannot read the WAV file {path}: {error.strerror or error}.", "Check the path and permissions."
        ) from error
    chunks = _riff_chunks(data, path)
    fmt, payload = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or len(fmt) < 16 or payload is None:
        raise _bad_file(path, "has no format or no data chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    if tag != _WAVE_FORMAT_PCM:
        raise _bad_file(path, f"is not integer PCM (format code {tag}; 3 is floating point)")
    if bits not in (8, 16, 24, 32) or channels < 1 or rate < 1 or block_align != channels * bits // 8:
        raise _bad_file(path, f"has an unsupported layout ({bits}-bit, {channels} channels, {rate} Hz)")
    return mix_to_mono(_frames(payload, channels, bits // 8)), rate


def read_as_captured(path: Path | str) -> bytes:
    """A whole WAV file as the microphone gives sound: 16 kHz mono 16-bit."""
    samples, rate = read_wav(Path(path))
    return resample(samples, rate, CAPTURE_RATE).tobytes()


class WavFileSource:
    """A WAV file as the microphone: 16 kHz mono blocks, then optional silence, then b"".

    `on_start` runs just before the first block is returned and `on_end` just after the last block of the
    file has been consumed (on the next `read()`), which is where a simulated button presses and releases.
    """

    def __init__(
        self,
        path: Path | str,
        trailing_silence_ms: int = 0,
        on_start: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.rate = CAPTURE_RATE
        self.trailing_silence_ms = trailing_silence_ms
        self.on_start = on_start
        self.on_end = on_end
        self._audio: bytes | None = None
        self._offset = 0
        self._silence_blocks = 0
        self._started = False
        self._ended = False
        self._closed = False

    def start(self) -> None:
        self._audio = read_as_captured(self.path)
        self._offset = 0
        block_ms = CAPTURE_BLOCK_SAMPLES * 1000 / self.rate
        self._silence_blocks = int(np.ceil(self.trailing_silence_ms / block_ms))
        self._started = self._ended = self._closed = False
        log.info("reading %s: %.1f s of audio", self.path, len(self._audio) / SAMPLE_WIDTH / self.rate)

    def read(self) -> bytes:
        audio = self._audio
        if self._closed:
            return b""
        if audio is None:
            raise AudioDeviceError(f"{self.path} was read before start().", "Call start() first.")
        if not self._started:
            self._started = True
            if self.on_start is not None:
                self.on_start()
        if self._offset < len(audio):
            block = audio[self._offset : self._offset + _BLOCK_BYTES]
            self._offset += _BLOCK_BYTES
            return block + bytes(_BLOCK_BYTES - len(block))
        if not self._ended:
            self._ended = True
            if self.on_end is not None:
                self.on_end()
        if self._silence_blocks > 0 and not self._closed:
            self._silence_blocks -= 1
            return bytes(_BLOCK_BYTES)
        return b""

    def close(self) -> None:
        self._closed = True
        self._audio = None


def write_wav(path: Path, audio: bytes, rate: int) -> Path:
    """One whole mono int16 WAV, written under a temporary name and renamed: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with wave.open(str(temporary), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(rate)
            out.writeframes(audio)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise AudioDeviceError(f"Cannot write {path}: {error.strerror or error}.") from error
    return path


_REPLY_NAME = re.compile(r"^reply-(\d+)\.wav$")


class WavFolderSink:
    """Each reply (`begin()`…`end()`) becomes a new file reply-0001.wav, reply-0002.wav… in `folder`.

    Numbering continues after the files already there. A reply is written under a hidden temporary name
    and renamed when it ends or is stopped, so nobody ever sees half a file under the final name.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.last_path: Path | None = None
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._writer: wave.Wave_write | None = None
        self._temp: Path | None = None
        self._final: Path | None = None

    def start(self) -> None:
        self._mkdir()

    def begin(self, rate: int) -> None:
        with self._lock:
            if self._writer is not None:
                log.warning("reply %s was not ended before the next began; keeping it", self._final)
                self._finish()
            self._mkdir()
            number = self._next_number()
            self._final = self.folder / f"reply-{number:04d}.wav"
            self._temp = self.folder / f".reply-{number:04d}.wav.partial"
            try:
                # Both stay open across write() calls, so no `with` block can own them.
                self._file = self._temp.open("wb")
                self._writer = wave.open(self._file, "wb")  # noqa: SIM115
                self._writer.setnchannels(1)
                self._writer.setsampwidth(SAMPLE_WIDTH)
                self._writer.setframerate(rate)
            except OSError as error:
                self._discard()
                raise self._error(error) from error

    def write(self, audio: bytes) -> None:
        with self._lock:
            if self._writer is None:
                return
            try:
                self._writer.writeframes(audio)
            except OSError as error:
                self._discard()
                raise self._error(error) from error

    def end(self) -> None:
        with self._lock:
            self._finish()

    def stop(self) -> None:
        # A stopped reply was "heard" up to here, so what was written is kept, like a recording would be.
        with self._lock:
            self._finish()

    def close(self) -> None:
        self.stop()

    def _finish(self) -> None:
        writer, file, temp, final = self._writer, self._file, self._temp, self._final
        if writer is None or file is None or temp is None or final is None:
            return
        try:
            writer.close()
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(temp, final)
        except OSError as error:
            self._discard()
            raise self._error(error) from error
        self._writer = self._file = None
        self.last_path = final
        log.info("reply written to %s", final)

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
        self._writer = self._file = None

    def _next_number(self) -> int:
        numbers = [int(m.group(1)) for p in self.folder.iterdir() if (m := _REPLY_NAME.match(p.name))]
        return max(numbers, default=0) + 1

    def _mkdir(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._error(error) from error

    def _error(self, error: OSError) -> AudioDeviceError:
        return AudioDeviceError(
            f"Cannot write replies to {self.folder}: {error.strerror or error}.",
            "Check the folder (hardware.replies_dir) exists, is writable and the disk is not full.",
        )


class MemorySink:
    """Keeps every reply in memory, for tests. Thread-safe.

    `streams` holds the finished replies as (rate, audio); a stopped reply is finished too, with the
    audio written before `stop()`, and counted in `stopped_count`. Writes after `stop()` are dropped
    until the next `begin()`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[tuple[int, bytes]] = []
        self._current: tuple[int, bytearray] | None = None
        self.stopped_count = 0
        self.closed = False

    @property
    def streams(self) -> list[tuple[int, bytes]]:
        with self._lock:
            return list(self._streams)

    @property
    def current(self) -> tuple[int, bytes] | None:
        with self._lock:
            return None if self._current is None else (self._current[0], bytes(self._current[1]))

    def start(self) -> None:
        self.closed = False

    def begin(self, rate: int) -> None:
        with self._lock:
            self._finish()
            self._current = (rate, bytearray())

    def write(self, audio: bytes) -> None:
        with self._lock:
            if self._current is not None:
                self._current[1].extend(audio)

    def end(self) -> None:
        with self._lock:
            self._finish()

    def stop(self) -> None:
        with self._lock:
            self.stopped_count += 1
            self._finish()

    def close(self) -> None:
        with self._lock:
            self._finish()
            self.closed = True

    def _finish(self) -> None:
        if self._current is not None:
            self._streams.append((self._current[0], bytes(self._current[1])))
            self._current = None
