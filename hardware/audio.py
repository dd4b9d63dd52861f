"""Microphone and speaker through sounddevice (PortAudio), and the device list for either backend.

sounddevice is imported inside `start()`/`begin()`, never at module import, so building the objects (and
the rest of the companion) works on a machine without PortAudio. The PyAudio backend, with the same
semantics, is in `hardware.audio_pyaudio`.
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

__all__ = ["AudioDeviceInfo", "SoundDeviceSink", "SoundDeviceSource", "list_audio_devices"]

log = logging.getLogger(__name__)


def list_audio_devices(backend: str) -> list[AudioDeviceInfo]:
    """Every device PortAudio sees through `backend`; [] when there are none.

    Raises MissingPackageError when the backend's Python package is missing, and AudioDeviceError when the
    PortAudio library itself is.
    """
    if backend == "sounddevice":
        return _sounddevice_devices(import_sounddevice())
    if backend == "pyaudio":
        from hardware.audio_pyaudio import list_pyaudio_devices

        return list_pyaudio_devices()
    raise AudioDeviceError(f"Unknown audio backend {backend!r}.", "Use 'sounddevice' or 'pyaudio'.")


def import_sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as error:
        raise MissingPackageError("sounddevice", "sounddevice") from error
    except OSError as error:
        # sounddevice raises OSError at import when the shared library libportaudio is not installed.
        raise AudioDeviceError(
            f"The PortAudio library is missing ({error}).", "sudo apt install libportaudio2"
        ) from error
    return sounddevice


def _sounddevice_devices(sd: Any) -> list[AudioDeviceInfo]:
    return [
        AudioDeviceInfo(
            name=str(d["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate=float(d["default_samplerate"]),
            index=int(d["index"]),
        )
        for d in sd.query_devices()
    ]


def _choose(sd: Any, name: str, direction: Direction, rate: int) -> tuple[int | None, int]:
    """The device index (None: the default) and the rate to run it at: `rate` if it can, else its own."""
    device = pick_device(_sounddevice_devices(sd), name, direction)
    index = None if device is None else device.index
    check = sd.check_input_settings if direction == "input" else sd.check_output_settings
    try:
        check(device=index, channels=1, dtype="int16", samplerate=rate)
        return index, rate
    except sd.PortAudioError as error:
        info = sd.query_devices(index, kind=direction) if index is None else sd.query_devices(index)
        own_rate = int(info["default_samplerate"])
        log.info("%s device %r cannot run at %s Hz (%s); using %s Hz", direction, name, rate, error, own_rate)
        return index, own_rate


def _open_error(what: str, name: str, error: Exception) -> AudioDeviceError:
    return AudioDeviceError(
        f"Cannot open the {what} {name or '(default)'!r}: {error}.",
        "Check it is plugged in and no other program uses it; `companion doctor` lists the devices.",
    )


class SoundDeviceSource(CallbackSource):
    """16 kHz mono int16 capture from the device whose name contains `device_name` ("" = the default)."""

    def _open(self, on_audio: Callable[[bytes], None]) -> OpenedStream:
        sd = import_sounddevice()
        index, device_rate = _choose(sd, self.device_name, "input", self.rate)

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            on_audio(bytes(indata))

        try:
            stream = sd.RawInputStream(
                samplerate=device_rate,
                blocksize=block_frames(device_rate, CAPTURE_BLOCK_SAMPLES / self.rate),
                device=index,
                channels=1,
                dtype="int16",
                callback=callback,
            )
        except sd.PortAudioError as error:
            raise _open_error("microphone", self.device_name, error) from error
        return OpenedStream(stream, device_rate, float(stream.latency))


class SoundDeviceSink(CallbackSink):
    """Mono int16 playback on the device whose name contains `device_name` ("" = the default)."""

    def _devices(self) -> list[AudioDeviceInfo]:
        return _sounddevice_devices(import_sounddevice())

    def _open(self, rate: int, take: Callable[[int], bytes]) -> OpenedStream:
        sd = import_sounddevice()
        index, device_rate = _choose(sd, self.device_name, "output", rate)

        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            outdata[:] = take(len(outdata))

        try:
            stream = sd.RawOutputStream(
                samplerate=device_rate,
                blocksize=block_frames(device_rate, PLAYBACK_BLOCK_S),
                device=index,
                channels=1,
                dtype="int16",
                latency="low",
                callback=callback,
            )
        except sd.PortAudioError as error:
            raise _open_error("speaker", self.device_name, error) from error
        return OpenedStream(stream, device_rate, float(stream.latency))
