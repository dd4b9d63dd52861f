"""What the sounddevice and PyAudio backends share: device choice, and the buffers between the audio thread
and the companion's threads.

Both backends use PortAudio in callback mode. The audio thread only ever copies bytes in or out of a
buffer here under a short lock; all waiting, resampling decisions and error reporting happen on the
caller's thread. That is what lets `stop()` silence the speaker from any thread within one callback period,
and lets `close()` wake a `read()` that is waiting for the microphone.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from companion.errors import AudioDeviceError
from companion.events import SAMPLE_WIDTH
from hardware.base import CAPTURE_BLOCK_SAMPLES
from hardware.pcm import StreamResampler

log = logging.getLogger(__name__)

PLAYBACK_BLOCK_S = 0.02
"""One output callback period: how late `stop()` may be, at most, before the speaker goes quiet."""
PLAYBACK_HIGH_WATER_S = 0.2
"""`write()` waits while more than this is queued, so a stream never runs far ahead of the speaker."""
STALL_TIMEOUT_S = 2.0
"""A device that takes or gives no audio for this long has gone away (a USB plug pulled out)."""
CAPTURE_BUFFER_S = 10.0
"""Microphone audio kept while the reader is busy; older audio is dropped beyond this."""

Direction = Literal["input", "output"]


@dataclass(frozen=True)
class AudioDeviceInfo:
    """One device as PortAudio lists it (through sounddevice or PyAudio)."""

    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    index: int = -1
    """PortAudio's device number; -1 when unknown."""

    def channels(self, direction: Direction) -> int:
        return self.max_input_channels if direction == "input" else self.max_output_channels


def pick_device(
    devices: Sequence[AudioDeviceInfo], name: str, direction: Direction
) -> AudioDeviceInfo | None:
    """The device whose name contains `name` (case-insensitive; an exact match wins), None for the default.

    Raises AudioDeviceError naming the devices there are when nothing fits.
    """
    usable = [d for d in devices if d.channels(direction) > 0]
    what = "microphone" if direction == "input" else "speaker"
    available = ", ".join(repr(d.name) for d in usable) or "(none found)"
    if not name:
        if not usable:
            raise AudioDeviceError(
                f"No {what} was found.",
                f"Plug in the USB speakerphone and check `companion doctor`. Devices available: {available}.",
            )
        return None
    wanted = name.casefold()
    exact = [d for d in usable if d.name.casefold() == wanted]
    matches = exact or [d for d in usable if wanted in d.name.casefold()]
    if not matches:
        raise AudioDeviceError(
            f"No {what} has a name containing {name!r}. Devices available: {available}.",
            f"Set hardware.{direction}_device to part of one of these names, or empty for the default.",
        )
    if len(matches) > 1:
        log.info("%d %ss match %r; using %r", len(matches), what, name, matches[0].name)
    return matches[0]


class Stream(Protocol):
    """The part of a PortAudio stream object the buffers need (a fake in tests has the same shape)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class OpenedStream:
    stream: Stream
    device_rate: int
    """The rate the device really runs at; differs from the one asked for when it could not do that."""
    latency_s: float
    """Seconds between the callback handing over audio and the speaker playing it."""


def block_frames(rate: int, seconds: float) -> int:
    return max(1, int(rate * seconds))


class CaptureBuffer:
    """Microphone audio from the audio thread to `read()`, resampled to the rate the caller wants."""

    def __init__(self, block_bytes: int, max_bytes: int, resampler: StreamResampler | None) -> None:
        self._block_bytes = block_bytes
        self._max_bytes = max_bytes
        self._resampler = resampler
        self._data = bytearray()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped_bytes = 0

    def push(self, audio: bytes) -> None:
        """Called on the audio thread: must not block for long, so it never logs or waits."""
        if self._resampler is not None:
            audio = self._resampler.process_bytes(audio)
        with self._cond:
            if self._closed:
                return
            self._data += audio
            excess = len(self._data) - self._max_bytes
            if excess > 0:
                excess += excess % SAMPLE_WIDTH
                del self._data[:excess]
                self.dropped_bytes += excess
            self._cond.notify_all()

    def pop(self, timeout: float) -> bytes | None:
        """One block; b"" once closed; None when no audio arrived within `timeout`."""
        with self._cond:
            ready = self._cond.wait_for(lambda: self._closed or len(self._data) >= self._block_bytes, timeout)
            if self._closed:
                return b""
            if not ready:
                return None
            block = bytes(self._data[: self._block_bytes])
            del self._data[: self._block_bytes]
            return block

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._data.clear()
            self._cond.notify_all()


class PlaybackQueue:
    """Speaker audio from `write()` to the audio thread. `stop()` empties it at once, from any thread."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._cond = threading.Condition()
        self._stopped = False
        self._high_water = 0
        self._taken = 0
        """Bytes handed to the device so far: lets a waiter tell a slow device from a dead one."""
        self._generation = 0
        """Counts stop() and reset(): a writer still waiting from before them must not add stale audio."""

    def reset(self, high_water_bytes: int) -> None:
        with self._cond:
            self._data.clear()
            self._stopped = False
            self._high_water = high_water_bytes
            self._generation += 1
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def queued_bytes(self) -> int:
        with self._cond:
            return len(self._data)

    def put(self, audio: bytes) -> None:
        with self._cond:
            if self._wait_while(lambda: len(self._data) > self._high_water, "take more audio"):
                self._data += audio

    def wait_drained(self) -> None:
        with self._cond:
            self._wait_while(lambda: len(self._data) > 0, "finish playing")

    def pause(self, seconds: float) -> None:
        """Sleep that `stop()` cuts short."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopped, seconds)

    def take(self, nbytes: int) -> bytes:
        """Called on the audio thread: exactly `nbytes`, padded with silence when the queue runs dry."""
        with self._cond:
            chunk = bytes(self._data[:nbytes])
            del self._data[:nbytes]
            self._taken += len(chunk)
            if chunk:
                self._cond.notify_all()
        return chunk if len(chunk) == nbytes else chunk + bytes(nbytes - len(chunk))

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._data.clear()
            self._generation += 1
            self._cond.notify_all()

    def _wait_while(self, busy: Callable[[], bool], doing: str) -> bool:
        """Wait (lock held) while `busy()`; False if the stream was stopped or replaced meanwhile."""
        generation = self._generation
        # Progress, not total time, decides: a long reply may take minutes to drain, but a device that
        # takes nothing for STALL_TIMEOUT_S is gone.
        while busy() and not self._stopped and generation == self._generation:
            before = self._taken
            # Every take(), stop() and reset() notifies, so a wake-up without any of them is a timeout.
            self._cond.wait(STALL_TIMEOUT_S)
            if busy() and not self._stopped and generation == self._generation and self._taken == before:
                self._data.clear()
                raise AudioDeviceError(
                    f"The speaker did not {doing} for {STALL_TIMEOUT_S:g} seconds.",
                    "Check that the speaker is plugged in; `companion doctor` lists the audio devices.",
                )
        return not self._stopped and generation == self._generation


class CallbackSource(ABC):
    """A microphone read through a PortAudio callback. Subclasses only open the backend's stream."""

    def __init__(self, device_name: str, rate: int = 16000) -> None:
        self.device_name = device_name
        self.rate = rate
        self._buffer: CaptureBuffer | None = None
        self._stream: Stream | None = None
        self._closed = False
        self._reported_drops = 0

    @abstractmethod
    def _open(self, on_audio: Callable[[bytes], None]) -> OpenedStream:
        """Open (not start) a mono int16 input stream calling `on_audio` with each block of bytes."""

    def start(self) -> None:
        if self._stream is not None:
            return
        self._closed = False
        opened = self._open(self._on_audio)
        resampler = None
        if opened.device_rate != self.rate:
            log.info("microphone runs at %s Hz; resampling to %s Hz", opened.device_rate, self.rate)
            resampler = StreamResampler(opened.device_rate, self.rate)
        block = CAPTURE_BLOCK_SAMPLES * SAMPLE_WIDTH
        self._buffer = CaptureBuffer(block, int(CAPTURE_BUFFER_S * self.rate) * SAMPLE_WIDTH, resampler)
        _start(opened, "microphone", self.device_name)
        self._stream = opened.stream
        log.info("microphone %r open at %s Hz", self.device_name or "(default)", opened.device_rate)

    def _on_audio(self, audio: bytes) -> None:
        buffer = self._buffer
        if buffer is not None:
            buffer.push(audio)

    def read(self) -> bytes:
        buffer = self._buffer
        if buffer is None:
            if self._closed:
                return b""
            raise AudioDeviceError("The microphone was read before it was started.", "Call start() first.")
        block = buffer.pop(STALL_TIMEOUT_S)
        if block is None:
            raise AudioDeviceError(
                f"The microphone delivered no audio for {STALL_TIMEOUT_S:g} seconds.",
                "Check that the microphone is plugged in; `companion doctor` lists the audio devices.",
            )
        if buffer.dropped_bytes > self._reported_drops:
            log.warning("microphone audio dropped: the reader fell %s s behind", CAPTURE_BUFFER_S)
            self._reported_drops = buffer.dropped_bytes
        return block

    def close(self) -> None:
        self._closed = True
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            buffer.close()
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_quietly(stream)


class CallbackSink(ABC):
    """A speaker fed through a PortAudio callback from a PlaybackQueue.

    The stream is opened by the first `begin()` and kept running (playing silence) between replies, so the
    next reply starts without the delay of opening the device; `close()` releases it.
    """

    def __init__(self, device_name: str) -> None:
        self.device_name = device_name
        self._queue = PlaybackQueue()
        self._lock = threading.Lock()
        self._opened: OpenedStream | None = None
        self._rate = 0
        self._resampler: StreamResampler | None = None

    @abstractmethod
    def _devices(self) -> list[AudioDeviceInfo]: ...

    @abstractmethod
    def _open(self, rate: int, take: Callable[[int], bytes]) -> OpenedStream:
        """Open (not start) a mono int16 output stream whose callback fills itself with `take(nbytes)`."""

    def start(self) -> None:
        """Check the speaker exists, so a wrong name shows at start-up rather than at the first reply.

        Nothing is opened: the stream's rate is only known at `begin()`.
        """
        pick_device(self._devices(), self.device_name, "output")

    def begin(self, rate: int) -> None:
        with self._lock:
            if self._opened is None or rate != self._rate:
                self._close_stream()
                opened = self._open(rate, self._queue.take)
                _start(opened, "speaker", self.device_name)
                self._opened, self._rate = opened, rate
                log.info("speaker %r open at %s Hz", self.device_name or "(default)", opened.device_rate)
            device_rate = self._opened.device_rate
            self._resampler = StreamResampler(rate, device_rate) if device_rate != rate else None
            self._queue.reset(int(device_rate * PLAYBACK_HIGH_WATER_S) * SAMPLE_WIDTH)

    def write(self, audio: bytes) -> None:
        if self._queue.stopped:
            return
        resampler, opened = self._resampler, self._opened
        try:
            self._queue.put(resampler.process_bytes(audio) if resampler is not None else audio)
        except AudioDeviceError:
            self._forget_stream(opened)
            raise

    def end(self) -> None:
        opened = self._opened
        if opened is None or self._queue.stopped:
            return
        try:
            self._queue.wait_drained()
        except AudioDeviceError:
            self._forget_stream(opened)
            raise
        # The last callback has handed its audio to the device; it reaches the air one latency later.
        self._queue.pause(opened.latency_s + PLAYBACK_BLOCK_S)

    def _forget_stream(self, stalled: OpenedStream | None) -> None:
        """A speaker that stalled is gone (unplugged): the next `begin()` opens it afresh — unless a
        `begin()` on another thread has already done so."""
        with self._lock:
            if self._opened is stalled:
                self._close_stream()

    def stop(self) -> None:
        self._queue.stop()

    def close(self) -> None:
        self._queue.stop()
        with self._lock:
            self._close_stream()

    def _close_stream(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            _close_quietly(opened.stream)


def _start(opened: OpenedStream, what: str, name: str) -> None:
    try:
        opened.stream.start()
    except Exception as error:
        # Backends raise their own types (sounddevice.PortAudioError, OSError from PyAudio).
        _close_quietly(opened.stream)
        raise AudioDeviceError(
            f"Cannot start the {what} {name or '(default)'!r}: {error}.",
            "Check it is plugged in and no other program uses it; `companion doctor` lists the devices.",
        ) from error


def _close_quietly(stream: Stream) -> None:
    # Closing happens on shutdown and after errors; a device that is already gone must not hide the
    # error that led here, and every backend has its own exception type for "already gone".
    try:
        stream.stop()
        stream.close()
    except Exception as error:
        log.warning("closing the audio stream failed: %s", error)
