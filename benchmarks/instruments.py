"""Measuring devices for the benchmarks: a real-time microphone, a real-time speaker, stage timers.

They stand in for the sound card only; everything between them is the product's own code.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.engines import Engines
from hardware.base import CAPTURE_BLOCK_SAMPLES
from hardware.wav import WavFileSource


class PacedWavSource(WavFileSource):
    """A WAV file delivered at the pace of a real microphone: 32 ms of audio every 32 ms."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._next_at = 0.0

    def read(self) -> bytes:
        now = time.perf_counter()
        if self._next_at == 0.0:
            self._next_at = now
        if self._next_at > now:
            time.sleep(self._next_at - now)
        self._next_at += CAPTURE_BLOCK_SAMPLES / self.rate
        return super().read()


@dataclass
class PacedSink:
    """A speaker that plays in real time: `write` blocks while more than 200 ms is queued, like a sound
    card's buffer, and `stop` silences it at once. Records when things happened."""

    ahead_s: float = 0.2
    writes: list[tuple[float, int]] = field(default_factory=list)
    stops: list[float] = field(default_factory=list)
    played_s: float = 0.0
    _rate: int = 22050
    _busy_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        pass

    def begin(self, rate: int) -> None:
        self._rate = rate
        self._busy_until = time.perf_counter()

    def write(self, audio: bytes) -> None:
        with self._lock:
            now = time.perf_counter()
            self.writes.append((now, len(audio)))
            self._busy_until = max(self._busy_until, now) + len(audio) / 2 / self._rate
            wait = self._busy_until - now - self.ahead_s
        if wait > 0:
            time.sleep(wait)

    def end(self) -> None:
        wait = self._busy_until - time.perf_counter()
        if wait > 0:
            time.sleep(wait)

    def stop(self) -> None:
        with self._lock:
            now = time.perf_counter()
            self.stops.append(now)
            self._busy_until = now

    def close(self) -> None:
        pass

    def audio_started(self, after: float) -> float:
        """Seconds of audio written before time `after`."""
        return sum(size for at, size in self.writes if at <= after) / 2 / self._rate


@dataclass
class StageClock:
    """Wall time spent inside each model call of one turn."""

    stt_s: float = 0.0
    llm_first_piece_at: float = 0.0
    llm_called_at: float = 0.0
    tts_calls: list[tuple[float, float]] = field(default_factory=list)
    """(called at, first block at) per clause."""

    def reset(self) -> None:
        self.stt_s = self.llm_first_piece_at = self.llm_called_at = 0.0
        self.tts_calls = []


def instrument(engines: Engines, clock: StageClock) -> None:
    """Wrap the engines' model calls with timers (setattr: instance attributes shadow the methods)."""
    transcriber = engines.transcriber
    if transcriber is not None:
        transcribe = transcriber.transcribe

        def timed_transcribe(audio: bytes) -> Any:
            began = time.perf_counter()
            try:
                return transcribe(audio)
            finally:
                clock.stt_s += time.perf_counter() - began

        setattr(transcriber, "transcribe", timed_transcribe)  # noqa: B010

    reply = engines.chat.reply

    def timed_reply(text: str, note: str = "") -> Iterator[str]:
        clock.llm_called_at = time.perf_counter()
        for piece in reply(text, note):
            if not clock.llm_first_piece_at:
                clock.llm_first_piece_at = time.perf_counter()
            yield piece

    setattr(engines.chat, "reply", timed_reply)  # noqa: B010
    synthesize = engines.synthesizer.synthesize

    def timed_synthesize(text: str) -> Iterator[bytes]:
        called = time.perf_counter()
        first = True
        for block in synthesize(text):
            if first:
                clock.tts_calls.append((called, time.perf_counter()))
                first = False
            yield block

    setattr(engines.synthesizer, "synthesize", timed_synthesize)  # noqa: B010


def resident_mb(pid: int | str = "self") -> float:
    """VmRSS of this process (or of another one, by its pid), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


Timer = Callable[[], float]


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() in ("model name", "Model") and value.strip():
                model = value.strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "python": platform.python_version(),
    }
