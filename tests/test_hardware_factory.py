"""open_hardware() chooses like gpiozero's _default_pin_factory: by settings and GPIOZERO_PIN_FACTORY."""

from __future__ import annotations

import logging
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from companion.errors import AudioDeviceError, HardwareError
from companion.settings import HardwareSettings
from hardware.audio import SoundDeviceSink, SoundDeviceSource, list_audio_devices
from hardware.audio_pyaudio import PyAudioSink, PyAudioSource
from hardware.base import LightPattern
from hardware.button import GpioButton
from hardware.factory import has_gpio, open_hardware
from hardware.light import ConsoleLight, GpioLight
from hardware.simulated import KeyboardButton, SimulatedButton, TypedTextInput
from hardware.streams import AudioDeviceInfo
from hardware.wav import WavFileSource, WavFolderSink

SPEAKERPHONE = AudioDeviceInfo("Jabra SPEAK 410 USB", 1, 2, 16000.0, 0)
SPEAKER_ONLY = AudioDeviceInfo("HDMI 0", 0, 8, 48000.0, 1)


@pytest.fixture(autouse=True)
def clean_gpio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No pin factory chosen before a test, none left behind after it."""
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    previous = Device.pin_factory
    Device.pin_factory = None
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.close()
    Device.pin_factory = previous


@pytest.fixture
def no_gpio() -> None:
    if has_gpio():
        pytest.skip("this machine has GPIO")


def test_mock_pin_factory_gives_gpio_button_and_light(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    hw = open_hardware(HardwareSettings(button_pin=27, light_pin=13), tmp_path, devices=[SPEAKERPHONE])
    assert isinstance(hw.button, GpioButton) and isinstance(hw.light, GpioLight)
    assert isinstance(hw.source, SoundDeviceSource) and isinstance(hw.sink, SoundDeviceSink)
    assert not hw.simulated and hw.text_input is None
    assert Device.pin_factory is None, "nothing is opened by open_hardware"
    assert hw.description == (
        "GPIO27 button, GPIO13 light, microphone via sounddevice (default), speaker via sounddevice (default)"
    )

    pressed: list[bool] = []
    hw.button.when_pressed = lambda: pressed.append(True)
    hw.button.start()
    hw.light.show(LightPattern.LISTENING)
    factory = Device.pin_factory
    assert isinstance(factory, MockFactory)
    factory.pin(27).drive_low()
    assert pressed == [True]
    assert factory.pin(13).state == 1.0
    hw.button.close()
    hw.light.close()


def test_mock_pin_factory_with_the_real_device_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    hw = open_hardware(HardwareSettings(), tmp_path)
    assert isinstance(hw.button, GpioButton) and isinstance(hw.light, GpioLight)
    # With a GPIO button the microphone is never replaced by typing: a missing one shows at start().
    assert isinstance(hw.source, SoundDeviceSource)


def test_no_gpio_and_no_devices_is_simulated_typed_text_and_wav_folder(
    no_gpio: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    replies = tmp_path / "replies"
    with caplog.at_level(logging.WARNING):
        hw = open_hardware(HardwareSettings(), replies, devices=[])
    assert hw.simulated
    assert isinstance(hw.button, SimulatedButton) and not isinstance(hw.button, KeyboardButton)
    assert isinstance(hw.light, ConsoleLight)
    assert hw.source is None and isinstance(hw.text_input, TypedTextInput)
    assert isinstance(hw.sink, WavFolderSink) and hw.sink.folder == replies
    assert hw.description == f"simulated: typed text in, replies as WAV files in {replies}"
    assert "no GPIO" in caplog.text and "no speaker" in caplog.text


def test_this_machine_without_sound_devices(no_gpio: None, tmp_path: Path) -> None:
    if list_audio_devices("sounddevice"):
        pytest.skip("this machine has sound devices")
    hw = open_hardware(HardwareSettings(), tmp_path)
    assert hw.source is None and isinstance(hw.sink, WavFolderSink)


def test_input_wav_presses_the_simulated_button_while_it_plays(tmp_path: Path) -> None:
    wav = tmp_path / "question.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.full(1600, 100, dtype=np.int16).tobytes())
    hw = open_hardware(HardwareSettings(), tmp_path / "replies", simulate=True, input_wav=wav, devices=[])
    assert isinstance(hw.source, WavFileSource) and isinstance(hw.button, SimulatedButton)
    assert hw.simulated and hw.text_input is None
    assert hw.description.startswith(f"simulated: audio from {wav}")
    events: list[str] = []
    hw.button.when_pressed = lambda: events.append("down")
    hw.button.when_released = lambda: events.append("up")
    hw.start()
    while block := hw.source.read():
        events.append("audio" if any(block) else "silence")
    hw.close()
    assert events == ["down"] + ["audio"] * 4 + ["up"]


def test_simulated_with_a_microphone_uses_the_enter_key(tmp_path: Path) -> None:
    hw = open_hardware(HardwareSettings(mode="simulated"), tmp_path, devices=[SPEAKERPHONE])
    assert isinstance(hw.button, KeyboardButton) and isinstance(hw.source, SoundDeviceSource)
    assert isinstance(hw.sink, SoundDeviceSink)
    assert hw.description.startswith("simulated: Enter key as the button, microphone via sounddevice")


def test_pyaudio_backend_and_named_devices(tmp_path: Path) -> None:
    settings = HardwareSettings(audio_backend="pyaudio", input_device="jabra", output_device="hdmi")
    hw = open_hardware(settings, tmp_path, simulate=True, devices=[SPEAKERPHONE, SPEAKER_ONLY])
    assert isinstance(hw.source, PyAudioSource) and hw.source.device_name == "jabra"
    assert isinstance(hw.sink, PyAudioSink) and hw.sink.device_name == "hdmi"


def test_simulate_and_simulated_mode_win_over_gpio(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    for hw in (
        open_hardware(HardwareSettings(), tmp_path, simulate=True, devices=[]),
        open_hardware(HardwareSettings(mode="simulated"), tmp_path, devices=[]),
    ):
        assert hw.simulated and isinstance(hw.light, ConsoleLight)


def test_gpio_mode_without_gpio_is_an_error(no_gpio: None, tmp_path: Path) -> None:
    with pytest.raises(HardwareError, match="no GPIO"):
        open_hardware(HardwareSettings(mode="gpio"), tmp_path, devices=[])


def test_has_gpio(tmp_path: Path) -> None:
    dev, model = tmp_path / "dev", tmp_path / "model"
    dev.mkdir()
    assert not has_gpio({}, dev, model)
    assert has_gpio({"GPIOZERO_PIN_FACTORY": "mock"}, dev, model)
    (dev / "gpiochip0").touch()
    assert not has_gpio({}, dev, model), "no device-tree model: not a Pi"
    model.write_bytes(b"Generic x86 board\x00")
    assert not has_gpio({}, dev, model)
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert has_gpio({}, dev, model)


def test_start_closes_what_it_started_when_a_part_fails(tmp_path: Path) -> None:
    hw = open_hardware(
        HardwareSettings(), tmp_path, simulate=True, input_wav=tmp_path / "missing.wav", devices=[]
    )
    events: list[str] = []
    hw.button.when_pressed = lambda: events.append("pressed")
    with pytest.raises(AudioDeviceError, match=r"missing\.wav"):
        hw.start()
    assert isinstance(hw.button, SimulatedButton)
    hw.button.press()
    assert events == [], "the button, started before the source failed, was closed again"
