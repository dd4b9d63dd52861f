"""Microphone and speaker through PyAudio: the same semantics as `hardware.audio`'s sounddevice classes.

Some Pi sound cards behave better through PyAudio's build of PortAudio. PyAudio is imported inside
`start()`/`begin()`; each stream owns its own `PyAudio` instance and terminates it when closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from companion.errors import AudioDeviceError, MissingPackageError
from hardware.base import CAPTURE_BLOCK_SAMPLES
from hardware.streams import (
    PLAYBACK_BLOCK_S,
    AudioDeviceInfo,
    CallbackSink,
    CallbackSource,
    Direction,
    OpenedStream,
    block_frames,
    pick_device,
)

log = logging.getLogger(__name__)


def import_pyaudio() -> Any:
    try:
        import pyaudio
    except ModuleNotFoundError as error:
        if error.name != "pyaudio":
            raise
        raise MissingPackageError("pyaudio", "pyaudio") from error
    except ImportError as error:
        # The package is there but its C extension cannot load libportaudio.
        raise AudioDeviceError(
            f"PyAudio cannot load the PortAudio library ({error}).", "sudo apt install libportaudio2"
        ) from error
    return pyaudio


def list_pyaudio_devices() -> list[AudioDeviceInfo]:
    pyaudio = import_pyaudio()
    audio = pyaudio.PyAudio()
    try:
        return _devices(audio)
    finally:
        audio.terminate()


def _devices(audio: Any) -> list[AudioDeviceInfo]:
    devices = []
    for index in range(audio.get_device_count()):
        info = audio.get_device_info_by_index(index)
        devices.append(
            AudioDeviceInfo(
                name=str(info["name"]),
                max_input_channels=int(info["maxInputChannels"]),
                max_output_channels=int(info["maxOutputChannels"]),
                default_samplerate=float(info["defaultSampleRate"]),
                index=int(info["index"]),
            )
        )
    return devices


def _choose(pyaudio: Any, audio: Any, name: str, direction: Direction, rate: int) -> tuple[int, int]:
    """The device index and the rate to run it at: `rate` if it can, else the device's own rate."""
    device = pick_device(_devices(audio), name, direction)
    if device is None:
        if direction == "input":
            default = audio.get_default_input_device_info()
        else:
            default = audio.get_default_output_device_info()
        index, own_rate = int(default["index"]), int(default["defaultSampleRate"])
    else:
        index, own_rate = device.index, int(device.default_samplerate)
    try:
        fmt = pyaudio.paInt16
        if direction == "input":
            audio.is_format_supported(rate, input_device=index, input_channels=1, input_format=fmt)
        else:
            audio.is_format_supported(rate, output_device=index, output_channels=1, output_format=fmt)
        return index, rate
    except ValueError as error:
        log.info("%s device %r cannot run at %s Hz (%s); using %s Hz", direction, name, rate, error, own_rate)
        return index, own_rate


class _PyAudioStream:
    """Gives a PyAudio stream the start/stop/close shape, and ends its PyAudio instance with it."""

    def __init__(self, audio: Any, stream: Any) -> None:
        self._audio = audio
        self._stream = stream

    def start(self) -> None:
        self._stream.start_stream()

    def stop(self) -> None:
        self._stream.stop_stream()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._audio.terminate()


def _open_stream(direction: Direction, name: str, rate: int, block_s: float, callback: Any) -> OpenedStream:
    pyaudio = import_pyaudio()
    audio = pyaudio.PyAudio()
    try:
        index, device_rate = _choose(pyaudio, audio, name, direction, rate)
        stream = audio.open(
            format=pyaudio.paInt16,
            channels=1,
            rate=device_rate,
            frames_per_buffer=block_frames(device_rate, block_s),
            stream_callback=callback(pyaudio),
            start=False,
            **{direction: True, f"{direction}_device_index": index},
        )
    except (OSError, ValueError) as error:
        audio.terminate()
        what = "microphone" if direction == "input" else "speaker"
        raise AudioDeviceError(
            f"Cannot open the {what} {name or '(default)'!r}: {error}.",
            "Check it is plugged in and no other program uses it; `companion doctor` lists the devices.",
        ) from error
    except BaseException:
        audio.terminate()
        raise
    latency = stream.get_input_latency() if direction == "input" else stream.get_output_latency()
    return OpenedStream(_PyAudioStream(audio, stream), device_rate, float(latency))


class PyAudioSource(CallbackSource):
    """16 kHz mono int16 capture from the device whose name contains `device_name` ("" = the default)."""

    def _open(self, on_audio: Callable[[bytes], None]) -> OpenedStream:
        def make_callback(pyaudio: Any) -> Callable[..., tuple[None, int]]:
            def callback(in_data: bytes, frame_count: int, time_info: Any, status: int) -> tuple[None, int]:
                on_audio(in_data)
                return None, int(pyaudio.paContinue)

            return callback

        return _open_stream(
            "input", self.device_name, self.rate, CAPTURE_BLOCK_SAMPLES / self.rate, make_callback
        )


class PyAudioSink(CallbackSink):
    """Mono int16 playback on the device whose name contains `device_name` ("" = the default)."""

    def _devices(self) -> list[AudioDeviceInfo]:
        return list_pyaudio_devices()

    def _open(self, rate: int, take: Callable[[int], bytes]) -> OpenedStream:
        def make_callback(pyaudio: Any) -> Callable[..., tuple[bytes, int]]:
            def callback(in_data: None, frame_count: int, time_info: Any, status: int) -> tuple[bytes, int]:
                return take(frame_count * 2), int(pyaudio.paContinue)

            return callback

        return _open_stream("output", self.device_name, rate, PLAYBACK_BLOCK_S, make_callback)
