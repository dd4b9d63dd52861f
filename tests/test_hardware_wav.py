"""WAV files as microphone and speaker, and the in-memory sink."""

from __future__ import annotations

import struct
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from companion.errors import AudioDeviceError
from hardware.base import CAPTURE_BLOCK_SAMPLES, AudioSink, AudioSource
from hardware.wav import MemorySink, WavFileSource, WavFolderSink, read_wav

BLOCK_BYTES = CAPTURE_BLOCK_SAMPLES * 2


def write_wav(path: Path, frames: np.ndarray, rate: int, width: int = 2) -> Path:
    """Frames as (samples, channels) already in the file's integer format."""
    frames = frames.reshape(len(frames), -1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        if width == 3:
            little = frames.astype("<i4").reshape(-1).view(np.uint8).reshape(-1, 4)[:, :3]
            out.writeframes(little.tobytes())
        else:
            dtype: str = {1: "u1", 2: "<i2", 4: "<i4"}[width]
            out.writeframes(frames.astype(dtype).tobytes())
    return path


def riff(fmt: bytes, data: bytes) -> bytes:
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_all(source: WavFileSource) -> list[bytes]:
    blocks = []
    while block := source.read():
        blocks.append(block)
    return blocks


def test_round_trip_through_the_folder_sink_and_the_file_source(tmp_path: Path) -> None:
    audio = (np.sin(np.arange(20000) / 10) * 8000).astype(np.int16)
    sink = WavFolderSink(tmp_path / "replies")
    assert isinstance(sink, AudioSink)
    sink.start()
    sink.begin(16000)
    sink.write(audio[:7000].tobytes())
    sink.write(audio[7000:].tobytes())
    sink.end()
    assert sink.last_path == tmp_path / "replies" / "reply-0001.wav"

    source = WavFileSource(sink.last_path)
    assert isinstance(source, AudioSource)
    source.start()
    blocks = read_all(source)
    assert all(len(b) == BLOCK_BYTES for b in blocks)
    assert len(blocks) == -(-20000 // CAPTURE_BLOCK_SAMPLES)
    got = np.frombuffer(b"".join(blocks), dtype=np.int16)
    assert np.array_equal(got[:20000], audio)
    assert not got[20000:].any(), "the last block is padded with silence"


def test_numbering_continues_after_existing_files(tmp_path: Path) -> None:
    (tmp_path / "reply-0007.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a reply")
    sink = WavFolderSink(tmp_path)
    for expected in ("reply-0008.wav", "reply-0009.wav"):
        sink.begin(22050)
        sink.write(bytes(100))
        sink.end()
        assert sink.last_path is not None and sink.last_path.name == expected
    with wave.open(str(tmp_path / "reply-0009.wav")) as written:
        assert (written.getframerate(), written.getnchannels(), written.getnframes()) == (22050, 1, 50)


def test_a_reply_appears_under_its_name_only_when_complete(tmp_path: Path) -> None:
    sink = WavFolderSink(tmp_path)
    sink.begin(16000)
    sink.write(bytes(3200))
    assert not (tmp_path / "reply-0001.wav").exists()
    assert [p.name for p in tmp_path.iterdir()] == [".reply-0001.wav.partial"]
    sink.stop()  # a stopped reply keeps what was said before the interruption
    assert [p.name for p in tmp_path.iterdir()] == ["reply-0001.wav"]
    sink.write(bytes(3200))  # after stop(), until the next begin(), writes go nowhere
    sink.end()
    assert [p.name for p in tmp_path.iterdir()] == ["reply-0001.wav"]
    with wave.open(str(tmp_path / "reply-0001.wav")) as written:
        assert written.getnframes() == 1600


def test_an_unwritable_folder_is_an_audio_device_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AudioDeviceError, match="Cannot write replies"):
        WavFolderSink(blocker / "replies").begin(16000)


def test_22050_stereo_becomes_16k_mono(tmp_path: Path) -> None:
    seconds, rate = 1.0, 22050
    t = np.arange(int(seconds * rate)) / rate
    left = 10000 * np.sin(2 * np.pi * 440 * t)
    right = np.zeros_like(left)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1).round(), rate)

    source = WavFileSource(path)
    source.start()
    got = np.frombuffer(b"".join(read_all(source)), dtype=np.int16).astype(np.float64)
    assert source.rate == 16000
    assert len(got) == -(-16000 // CAPTURE_BLOCK_SAMPLES) * CAPTURE_BLOCK_SAMPLES
    signal = got[:16000]
    spectrum = np.abs(np.fft.rfft(signal))
    assert np.argmax(spectrum) * 16000 / len(signal) == pytest.approx(440, abs=2)
    assert np.max(np.abs(signal)) == pytest.approx(5000, rel=0.02), "the two channels are averaged"


@pytest.mark.parametrize(
    ("width", "stored", "expected"),
    [
        (1, [128, 255, 0], [0, 127 * 256, -32768]),
        (2, [0, 32767, -32768], [0, 32767, -32768]),
        (3, [0, 0x7FFFFF, -0x800000], [0, 32767, -32768]),
        (4, [0, 2**30, -(2**31)], [0, 16384, -32768]),
    ],
)
def test_integer_sample_widths(tmp_path: Path, width: int, stored: list[int], expected: list[int]) -> None:
    path = write_wav(tmp_path / f"w{width}.wav", np.array(stored), 16000, width)
    samples, rate = read_wav(path)
    assert rate == 16000
    assert samples.tolist() == expected


def test_wave_format_extensible_pcm_is_read(tmp_path: Path) -> None:
    data = np.array([1, -2, 300], dtype="<i2").tobytes()
    guid_pcm = struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, 8000, 16000, 2, 16) + struct.pack("<HHI", 22, 16, 4) + guid_pcm
    path = tmp_path / "extensible.wav"
    path.write_bytes(riff(fmt, data))
    samples, rate = read_wav(path)
    assert (samples.tolist(), rate) == ([1, -2, 300], 8000)


def test_missing_unreadable_and_non_pcm_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioDeviceError, match=r"missing\.wav"):
        WavFileSource(missing).start()
    text = tmp_path / "text.wav"
    text.write_text("hello")
    with pytest.raises(AudioDeviceError, match=r"text\.wav is not a WAV file"):
        WavFileSource(text).start()
    floats = tmp_path / "float.wav"
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)
    floats.write_bytes(riff(fmt, np.zeros(4, dtype="<f4").tobytes()))
    with pytest.raises(AudioDeviceError, match=r"float\.wav is not integer PCM \(format code 3") as info:
        WavFileSource(floats).start()
    assert "pcm_s16le" in str(info.value)


def test_on_start_and_on_end_bracket_the_audio_then_silence_then_the_end(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "q.wav", np.full(1000, 500), 16000)
    events: list[str] = []
    source = WavFileSource(
        path,
        trailing_silence_ms=100,
        on_start=lambda: events.append("start"),
        on_end=lambda: events.append("end"),
    )
    source.start()
    assert events == []
    for _ in range(2):  # 1000 samples: two blocks, the second padded
        block = source.read()
        events.append("audio" if any(block) else "silence")
    assert events == ["start", "audio", "audio"]
    while block := source.read():
        events.append("audio" if any(block) else "silence")
    assert events == ["start", "audio", "audio", "end", "silence", "silence", "silence", "silence"]
    assert source.read() == b"" and events[-1] == "silence"


def test_read_after_close_is_the_end(tmp_path: Path) -> None:
    source = WavFileSource(write_wav(tmp_path / "q.wav", np.full(2000, 5), 16000))
    source.start()
    assert source.read()
    source.close()
    assert source.read() == b""


def test_memory_sink_keeps_streams_and_counts_stops() -> None:
    sink = MemorySink()
    assert isinstance(sink, AudioSink)
    sink.begin(22050)
    sink.write(b"ab")
    assert sink.current == (22050, b"ab")
    sink.end()
    sink.begin(16000)
    sink.write(b"cd")
    sink.stop()
    sink.write(b"lost")
    assert sink.streams == [(22050, b"ab"), (16000, b"cd")]
    assert sink.stopped_count == 1 and sink.current is None


def test_memory_sink_is_thread_safe() -> None:
    sink = MemorySink()
    sink.begin(16000)

    def write_many() -> None:
        for _ in range(2000):
            sink.write(b"xy")

    writers = [threading.Thread(target=write_many) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    sink.end()
    assert len(sink.streams[0][1]) == 4 * 2000 * 2
