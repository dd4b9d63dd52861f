"""Chooses the hardware for this machine, the way gpiozero's `_default_pin_factory` chooses a pin factory.

GPIO button and light when the machine has GPIO (or `GPIOZERO_PIN_FACTORY` names a factory; "mock" is
what tests set) and the settings allow it, otherwise simulated ones. A microphone and a speaker through
the configured audio library when there are such devices; otherwise typed text or a WAV file stands in
for the microphone, and replies go to WAV files. Nothing is opened here: the caller starts each part
(or calls `Hardware.start()`) and closes it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from companion.errors import AudioDeviceError, HardwareError, MissingPackageError
from companion.settings import HardwareSettings
from hardware.base import AudioSink, AudioSource, Button, Light
from hardware.button import GpioButton
from hardware.light import ConsoleLight, GpioLight
from hardware.simulated import KeyboardButton, SimulatedButton, TypedTextInput
from hardware.streams import AudioDeviceInfo
from hardware.wav import WavFileSource, WavFolderSink

log = logging.getLogger(__name__)


@runtime_checkable
class _Startable(Protocol):
    def start(self) -> None: ...


@runtime_checkable
class _Closable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True)
class Hardware:
    button: Button
    light: Light
    source: AudioSource | None
    """None when typed text stands in for the microphone (then `text_input` is set)."""
    sink: AudioSink
    text_input: TypedTextInput | None
    simulated: bool
    """True when the button is not a GPIO button."""
    description: str
    """One line for the log and `companion doctor`, e.g.
    "simulated: typed text in, replies as WAV files in /var/lib/companion/replies"."""

    def parts(self) -> list[object]:
        parts = (self.light, self.button, self.source, self.sink, self.text_input)
        return [part for part in parts if part is not None]

    def start(self, tolerate_audio: bool = False) -> dict[str, AudioDeviceError]:
        """Start every part; if one fails, close the ones already started and re-raise. With
        `tolerate_audio`, a microphone or speaker that cannot be opened is returned instead ("microphone",
        "speaker" → why), for the device to start without it and try again."""
        started: list[object] = []
        missing: dict[str, AudioDeviceError] = {}
        try:
            for part in self.parts():
                try:
                    if isinstance(part, _Startable):
                        part.start()
                except AudioDeviceError as error:
                    if not tolerate_audio or part not in (self.source, self.sink):
                        raise
                    missing["microphone" if part is self.source else "speaker"] = error
                started.append(part)
        except BaseException:
            _close_all(reversed(started))
            raise
        return missing

    def close(self) -> None:
        _close_all(reversed(self.parts()))


def _close_all(parts: Iterable[object]) -> None:
    for part in parts:
        if isinstance(part, _Closable):
            try:
                part.close()
            except Exception as error:
                # Closing the others matters more than this one error: a held GPIO pin or an open sound
                # device would block the next start.
                log.warning("closing %s failed: %s", type(part).__name__, error)


def has_gpio(
    environ: Mapping[str, str] | None = None,
    dev_dir: Path = Path("/dev"),
    model_file: Path = Path("/proc/device-tree/model"),
) -> bool:
    """True on a Raspberry Pi with GPIO chips, or when GPIOZERO_PIN_FACTORY names a pin factory.

    Any named factory counts, not only "mock": someone who sets `pigpio` with PIGPIO_ADDR means to use
    the GPIO of another machine.
    """
    environ = os.environ if environ is None else environ
    if environ.get("GPIOZERO_PIN_FACTORY", "").strip():
        return True
    if not any(dev_dir.glob("gpiochip*")):
        return False
    try:
        model = model_file.read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    return "raspberry pi" in model.casefold()


def _probe_devices(backend: str) -> list[AudioDeviceInfo]:
    from hardware.audio import list_audio_devices

    try:
        return list_audio_devices(backend)
    except (MissingPackageError, AudioDeviceError) as error:
        log.warning("cannot list audio devices through %s: %s", backend, error.message)
        return []


def _backend_source(settings: HardwareSettings) -> AudioSource:
    if settings.audio_backend == "pyaudio":
        from hardware.audio_pyaudio import PyAudioSource

        return PyAudioSource(settings.input_device)
    from hardware.audio import SoundDeviceSource

    return SoundDeviceSource(settings.input_device)


def _backend_sink(settings: HardwareSettings) -> AudioSink:
    if settings.audio_backend == "pyaudio":
        from hardware.audio_pyaudio import PyAudioSink

        return PyAudioSink(settings.output_device)
    from hardware.audio import SoundDeviceSink

    return SoundDeviceSink(settings.output_device)


def _use_gpio(settings: HardwareSettings, simulate: bool) -> bool:
    if simulate or settings.mode == "simulated":
        return False
    if has_gpio():
        return True
    if settings.mode == "gpio":
        raise HardwareError(
            "hardware.mode is 'gpio', but this machine has no GPIO (no /dev/gpiochip*, not a Raspberry Pi).",
            "Set hardware.mode to 'auto' or 'simulated', or set GPIOZERO_PIN_FACTORY for remote GPIO.",
        )
    log.warning("no GPIO on this machine: using the simulated button and light")
    return False


def open_hardware(
    settings: HardwareSettings,
    replies_dir: Path,
    *,
    simulate: bool = False,
    input_wav: Path | None = None,
    devices: Sequence[AudioDeviceInfo] | None = None,
) -> Hardware:
    """Choose the button, light, microphone and speaker for this machine, without opening any of them.

    `devices` is the audio device list to choose from; None asks the configured backend.
    """
    gpio = _use_gpio(settings, simulate)
    if devices is None:
        devices = _probe_devices(settings.audio_backend)
    light: Light = GpioLight(settings.light_pin, settings.light_dimmable) if gpio else ConsoleLight()
    button, source, text_input, said = _choose_input(settings, gpio, input_wav, devices)
    if gpio:
        said.insert(1, f"GPIO{settings.light_pin} light")
    sink: AudioSink
    if any(d.max_output_channels > 0 for d in devices):
        sink = _backend_sink(settings)
        said.append(f"speaker via {settings.audio_backend} ({settings.output_device or 'default'})")
    else:
        log.warning("no speaker found: replies are written as WAV files in %s", replies_dir)
        sink = WavFolderSink(replies_dir)
        said.append(f"replies as WAV files in {replies_dir}")
    simulated = not isinstance(button, GpioButton)
    description = ("simulated: " if simulated else "") + ", ".join(said)
    return Hardware(button, light, source, sink, text_input, simulated, description)


def _choose_input(
    settings: HardwareSettings, gpio: bool, input_wav: Path | None, devices: Sequence[AudioDeviceInfo]
) -> tuple[Button, AudioSource | None, TypedTextInput | None, list[str]]:
    """The button and what stands for the microphone, with words for the description."""
    if input_wav is not None:
        wav_button = SimulatedButton()
        source = WavFileSource(input_wav, on_start=wav_button.press, on_end=wav_button.release)
        return wav_button, source, None, [f"audio from {input_wav} (button pressed while it plays)"]
    microphone = f"microphone via {settings.audio_backend} ({settings.input_device or 'default'})"
    if gpio:
        # On a device with a real button a missing microphone is a fault: the source's start() reports it
        # with the device list, rather than falling back to typing that nobody at the device can do.
        button = GpioButton(settings.button_pin, settings.button_bounce_ms)
        return button, _backend_source(settings), None, [f"GPIO{settings.button_pin} button", microphone]
    if any(d.max_input_channels > 0 for d in devices):
        return KeyboardButton(), _backend_source(settings), None, ["Enter key as the button", microphone]
    # Typed lines own stdin here, so the Enter key cannot also be the button.
    return SimulatedButton(), None, TypedTextInput(), ["typed text in"]
