"""The sounddevice and PyAudio backends.

The real libraries are exercised as far as this machine allows: listing devices, the not-found errors, and
(in a subprocess whose ALSA configuration defines null devices) real PortAudio streams through both
backends. The timing of the playback queue — write() back-pressure, stop() from another thread, end()
waiting for the audio to play out — needs a device that plays in real time, which no CI machine has, so
those tests put a paced fake stream where PortAudio's stream would be.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import hardware.streams
from companion.errors import AudioDeviceError, MissingPackageError
from hardware.audio import SoundDeviceSink, SoundDeviceSource, list_audio_devices
from hardware.audio_pyaudio import PyAudioSink, PyAudioSource
from hardware.base import CAPTURE_BLOCK_SAMPLES, AudioSink, AudioSource
from hardware.streams import AudioDeviceInfo, OpenedStream, pick_device

BLOCK_BYTES = CAPTURE_BLOCK_SAMPLES * 2
REPO = Path(__file__).resolve().parent.parent


# --- the real libraries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sounddevice", "pyaudio"])
def test_list_audio_devices_returns_a_list(backend: str) -> None:
    devices = list_audio_devices(backend)
    assert isinstance(devices, list)
    assert all(isinstance(d, AudioDeviceInfo) for d in devices)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(AudioDeviceError, match="Unknown audio backend"):
        list_audio_devices("alsa")


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda: SoundDeviceSource("no-such-device-xyz").start(), "microphone"),
        (lambda: SoundDeviceSink("no-such-device-xyz").start(), "speaker"),
        (lambda: SoundDeviceSink("no-such-device-xyz").begin(22050), "speaker"),
        (lambda: PyAudioSource("no-such-device-xyz").start(), "microphone"),
        (lambda: PyAudioSink("no-such-device-xyz").begin(22050), "speaker"),
    ],
)
def test_a_device_name_that_matches_nothing_lists_the_devices(make: Callable[[], None], what: str) -> None:
    with pytest.raises(
        AudioDeviceError, match=f"No {what} has a name containing 'no-such-device-xyz'"
    ) as info:
        make()
    assert "Devices available:" in str(info.value)


@pytest.mark.parametrize("module", ["sounddevice", "pyaudio"])
def test_a_missing_library_names_the_pip_package(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail like an absent package
    source: AudioSource = SoundDeviceSource("") if module == "sounddevice" else PyAudioSource("")
    sink: AudioSink = SoundDeviceSink("") if module == "sounddevice" else PyAudioSink("")
    with pytest.raises(MissingPackageError, match=f"pip install {module}"):
        source.start()
    with pytest.raises(MissingPackageError):
        sink.begin(16000)
    with pytest.raises(MissingPackageError):
        list_audio_devices(module)


NULL_DEVICE_SCRIPT = """
import sys
from companion.errors import AudioDeviceError
from hardware.audio import SoundDeviceSink, SoundDeviceSource, list_audio_devices
from hardware.audio_pyaudio import PyAudioSink, PyAudioSource

names = [d.name for d in list_audio_devices("sounddevice")]
if "companion_null" not in names:
    print("NO-NULL-DEVICE", names)
    sys.exit(0)
assert "companion_null" in [d.name for d in list_audio_devices("pyaudio")]
for source_class, sink_class in ((SoundDeviceSource, SoundDeviceSink), (PyAudioSource, PyAudioSink)):
    source = source_class("COMPANION_NULL")  # names match case-insensitively
    source.start()
    assert [len(source.read()) for _ in range(3)] == [1024] * 3
    source.close()
    assert source.read() == b""
    sink = sink_class("companion_null")
    sink.start()
    sink.begin(22050)
    sink.write(bytes(4410))
    sink.end()
    sink.begin(16000)
    sink.write(bytes(32000))
    sink.stop()
    sink.end()
    sink.close()
    try:
        source_class("nothing-like-it").start()
    except AudioDeviceError as error:
        assert "'companion_null'" in str(error), error
    else:
        raise AssertionError("no error for a missing device")
print("OK")
"""


def test_real_streams_on_alsa_null_devices(tmp_path: Path) -> None:
    """Both backends open, run and close real PortAudio streams (ALSA's null plugin: no sound card)."""
    (tmp_path / ".asoundrc").write_text("pcm.companion_null { type null }\n")
    result = subprocess.run(
        [sys.executable, "-c", NULL_DEVICE_SCRIPT],
        cwd=REPO,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "NO-NULL-DEVICE" in result.stdout:
        pytest.skip(f"PortAudio does not show ALSA's null device here: {result.stdout.strip()}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


# --- choosing a device ----------------------------------------------------------------------------------

DEVICES = [
    AudioDeviceInfo("HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 2, 48000.0, 0),
    AudioDeviceInfo("HDMI 0", 0, 8, 48000.0, 1),
    AudioDeviceInfo("Jabra SPEAK 410 USB: Audio (hw:1,0)", 1, 2, 16000.0, 2),
    AudioDeviceInfo("sysdefault", 128, 128, 44100.0, 3),
    AudioDeviceInfo("default", 128, 128, 44100.0, 4),
]


def test_pick_device_by_case_insensitive_part_of_the_name() -> None:
    assert pick_device(DEVICES, "jabra", "input") == DEVICES[2]
    assert pick_device(DEVICES, "", "output") is None  # the system default
    assert pick_device(DEVICES, "default", "output") == DEVICES[4]  # an exact name beats a part of one
    with pytest.raises(AudioDeviceError, match="No microphone has a name containing 'HDMI'"):
        pick_device(DEVICES, "HDMI", "input")  # HDMI has no input channels
    with pytest.raises(AudioDeviceError, match=r"(?s)No speaker was found.*\(none found\)"):
        pick_device([AudioDeviceInfo("mic only", 1, 0, 16000.0, 0)], "", "output")


# --- the playback queue with a paced fake stream --------------------------------------------------------


class PacedStream:
    """Calls `take` every block period, like PortAudio's callback thread, and records what it played."""

    def __init__(self, rate: int, take: Callable[[int], bytes], block_s: float = 0.02) -> None:
        self.rate, self.take, self.block_s = rate, take, block_s
        self.played: list[tuple[float, bytes]] = []
        self.running = threading.Event()
        self.closed = False
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.running.set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        frames = int(self.rate * self.block_s)
        next_at = time.monotonic()
        while self.running.is_set():
            self.played.append((time.monotonic(), self.take(frames * 2)))
            next_at += self.block_s
            time.sleep(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self.running.clear()
        if self.thread is not None:
            self.thread.join()

    def close(self) -> None:
        self.closed = True

    def audio(self) -> bytes:
        return b"".join(chunk for _, chunk in self.played)


class DeadStream(PacedStream):
    """A device that was unplugged: it never calls back."""

    def start(self) -> None:
        pass


class FakeDeviceSink(SoundDeviceSink):
    """SoundDeviceSink with PortAudio's stream replaced, nothing else: the queue logic under test is real."""

    def __init__(self, device_rate: int | None = None, dead: bool = False) -> None:
        super().__init__("fake")
        self.device_rate, self.dead = device_rate, dead
        self.streams: list[PacedStream] = []

    def _open(self, rate: int, take: Callable[[int], bytes]) -> OpenedStream:
        stream = (DeadStream if self.dead else PacedStream)(self.device_rate or rate, take)
        self.streams.append(stream)
        return OpenedStream(stream, self.device_rate or rate, latency_s=0.0)


@pytest.fixture
def sink() -> Iterator[FakeDeviceSink]:
    sink = FakeDeviceSink()
    yield sink
    sink.close()


def tone(seconds: float, rate: int = 16000, value: int = 1000) -> bytes:
    return np.full(int(seconds * rate), value, dtype=np.int16).tobytes()


def test_write_blocks_only_while_more_than_200_ms_is_queued(sink: FakeDeviceSink) -> None:
    sink.begin(16000)
    started = time.monotonic()
    sink.write(tone(1.0))
    assert time.monotonic() - started < 0.1, "an empty queue takes a whole second at once"
    sink.write(tone(0.02))
    waited = time.monotonic() - started
    assert 0.6 < waited < 1.2, f"waited {waited:.2f} s for the queue to fall to 200 ms"
    assert sink._queue.queued_bytes() <= int(16000 * 0.22) * 2


def test_end_waits_until_everything_has_played(sink: FakeDeviceSink) -> None:
    sink.begin(16000)
    audio = tone(0.3, value=1234)
    started = time.monotonic()
    sink.write(audio)
    sink.end()
    assert time.monotonic() - started > 0.25
    played = sink.streams[0].audio()
    assert np.count_nonzero(np.frombuffer(played, dtype=np.int16) == 1234) == len(audio) // 2


def test_stop_from_another_thread_silences_within_one_callback_and_frees_the_writer(
    sink: FakeDeviceSink,
) -> None:
    sink.begin(16000)
    sink.write(tone(2.0))
    writer_done = threading.Event()

    def writer() -> None:
        sink.write(tone(1.0))  # blocks: two seconds are queued
        writer_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.3)
    assert not writer_done.is_set()
    stopped_at = time.monotonic()
    sink.stop()
    thread.join(1.0)
    assert writer_done.is_set() and time.monotonic() - stopped_at < 0.1
    time.sleep(0.1)
    late = [chunk for at, chunk in sink.streams[0].played if at > stopped_at + 0.025]
    assert late and all(chunk == bytes(len(chunk)) for chunk in late), "silence one callback after stop()"
    started = time.monotonic()
    sink.write(tone(1.0))  # dropped until the next begin()
    sink.end()
    assert time.monotonic() - started < 0.05 and sink._queue.queued_bytes() == 0


def test_a_writer_waiting_across_stop_and_begin_adds_nothing_to_the_next_reply(sink: FakeDeviceSink) -> None:
    sink.begin(16000)
    sink.write(tone(2.0))
    writer = threading.Thread(target=lambda: sink.write(tone(1.0, value=7)))
    writer.start()
    time.sleep(0.2)
    with sink._queue._cond:  # stop() and the next begin() both happen before the writer can wake
        sink.stop()
        sink.begin(16000)
    writer.join(1.0)
    assert not writer.is_alive()
    assert sink._queue.queued_bytes() == 0


class BrokenStream(PacedStream):
    def start(self) -> None:
        raise OSError("Device unavailable")


def test_a_stream_that_will_not_start_is_an_audio_device_error() -> None:
    sink = FakeDeviceSink()
    sink._open = lambda rate, take: OpenedStream(BrokenStream(rate, take), rate, 0.0)  # type: ignore[method-assign]
    with pytest.raises(AudioDeviceError, match="Cannot start the speaker 'fake': Device unavailable"):
        sink.begin(16000)


def test_the_stream_stays_open_between_replies_at_the_same_rate(sink: FakeDeviceSink) -> None:
    for rate in (16000, 16000, 22050):
        sink.begin(rate)
        sink.write(tone(0.04, rate))
        sink.end()
    assert len(sink.streams) == 2
    assert sink.streams[0].closed and not sink.streams[1].closed


def test_a_rate_the_device_cannot_play_is_resampled() -> None:
    sink = FakeDeviceSink(device_rate=48000)
    sink.begin(16000)
    sink.write(tone(0.25, value=2000))
    sink.end()
    sink.close()
    played = np.frombuffer(sink.streams[0].audio(), dtype=np.int16)
    assert abs(np.count_nonzero(played == 2000) - 0.25 * 48000) < 10


def test_a_device_that_stops_taking_audio_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware.streams, "STALL_TIMEOUT_S", 0.2)
    sink = FakeDeviceSink(dead=True)
    sink.begin(16000)
    sink.write(tone(0.5))
    with pytest.raises(AudioDeviceError, match="did not take more audio"):
        sink.write(tone(0.1))
    assert sink.streams[0].closed  # the dead stream is let go: the next reply opens the speaker afresh
    sink.begin(16000)
    sink.write(tone(0.1))  # the queue was emptied, so the next reply is not stuck behind the dead one
    with pytest.raises(AudioDeviceError, match="did not finish playing"):
        sink.end()
    sink.dead = False  # plugged back in
    sink.begin(16000)
    sink.write(tone(0.05))
    sink.end()
    assert len(sink.streams) == 3 and sink.streams[1].closed and len(sink.streams[2].audio()) > 0
    sink.close()


# --- the capture buffer with a fake input stream --------------------------------------------------------


class FeedingStream:
    """Pushes `block` every `period` seconds from its own thread, like PortAudio's input callback."""

    def __init__(self, on_audio: Callable[[bytes], None], block: bytes, period: float) -> None:
        self.on_audio, self.block, self.period = on_audio, block, period
        self.running = threading.Event()

    def start(self) -> None:
        self.running.set()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while self.running.is_set():
            self.on_audio(self.block)
            time.sleep(self.period)

    def stop(self) -> None:
        self.running.clear()

    def close(self) -> None:
        pass


class FakeDeviceSource(SoundDeviceSource):
    def __init__(self, device_rate: int, block: bytes, period: float = 0.005) -> None:
        super().__init__("fake")
        self.device_rate, self.block, self.period = device_rate, block, period

    def _open(self, on_audio: Callable[[bytes], None]) -> OpenedStream:
        return OpenedStream(FeedingStream(on_audio, self.block, self.period), self.device_rate, 0.0)


def test_read_returns_whole_16k_blocks_even_from_a_48k_device() -> None:
    source = FakeDeviceSource(48000, np.full(480, 300, dtype=np.int16).tobytes())
    source.start()
    blocks = [source.read() for _ in range(5)]
    source.close()
    assert [len(b) for b in blocks] == [BLOCK_BYTES] * 5
    assert set(np.frombuffer(b"".join(blocks), dtype=np.int16)) == {300}
    assert source.read() == b""


def test_close_from_another_thread_wakes_a_waiting_read() -> None:
    source = FakeDeviceSource(16000, b"\x00\x00", period=10.0)  # almost nothing arrives
    source.start()
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(source.read()))
    reader.start()
    time.sleep(0.1)
    source.close()
    reader.join(1.0)
    assert result == [b""]


def test_a_microphone_that_goes_quiet_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware.streams, "STALL_TIMEOUT_S", 0.1)
    source = FakeDeviceSource(16000, b"\x00\x00", period=10.0)
    source.start()
    with pytest.raises(AudioDeviceError, match="no audio"):
        source.read()
    source.close()


def test_read_before_start_is_an_error() -> None:
    with pytest.raises(AudioDeviceError, match="before it was started"):
        SoundDeviceSource("").read()


def test_backends_satisfy_the_protocols() -> None:
    for source in (SoundDeviceSource(""), PyAudioSource("")):
        assert isinstance(source, AudioSource) and source.rate == 16000
    for sink in (SoundDeviceSink(""), PyAudioSink("")):
        assert isinstance(sink, AudioSink)
