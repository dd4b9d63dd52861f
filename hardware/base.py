"""The narrow interfaces every piece of hardware (real, simulated or in-memory) implements.

Construction is cheap and touches no device; `start()` opens it and `close()` releases it, so a test or
`companion doctor` can build the objects without owning the sound card.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Protocol, runtime_checkable

CAPTURE_BLOCK_SAMPLES = 512
"""Samples per microphone block: 32 ms at 16 kHz, exactly one Silero VAD window."""


class LightPattern(Enum):
    OFF = "off"
    IDLE = "idle"
    """A slow, dim breath: the companion is there and waiting."""
    LISTENING = "listening"
    """Steady on: it hears you."""
    THINKING = "thinking"
    """Quick blinking: it is working out an answer."""
    SPEAKING = "speaking"
    """A smooth pulse while it talks."""
    REMINDER = "reminder"
    """A slow, bright blink until the button is pressed: a reminder waits to be acknowledged."""
    ERROR = "error"
    """Three short flashes and a pause, repeated: something needs fixing (see `companion doctor`)."""


@runtime_checkable
class Button(Protocol):
    """One physical push button. Callbacks run on the hardware library's thread: keep them short."""

    when_pressed: Callable[[], None] | None
    when_released: Callable[[], None] | None

    def start(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Light(Protocol):
    def start(self) -> None: ...

    def show(self, pattern: LightPattern) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AudioSource(Protocol):
    """Mono int16 PCM capture at `rate` (16 kHz for a microphone)."""

    rate: int

    def start(self) -> None: ...

    def read(self) -> bytes:
        """Block until the next block of CAPTURE_BLOCK_SAMPLES samples; b"" when the stream has ended."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AudioSink(Protocol):
    """Mono int16 PCM playback. One reply is one stream: `begin(rate)` … `write()` … `end()`."""

    def start(self) -> None: ...

    def begin(self, rate: int) -> None: ...

    def write(self, audio: bytes) -> None:
        """Queue audio. Blocks while more than ~200 ms is queued; returns at once after `stop()`, and what
        is written after `stop()` is dropped until the next `begin()`."""
        ...

    def end(self) -> None:
        """Wait until the stream has been played (or written) in full; returns at once after `stop()`."""
        ...

    def stop(self) -> None:
        """Drop everything queued and go silent now. Safe to call from any thread, at any time."""
        ...

    def close(self) -> None: ...
