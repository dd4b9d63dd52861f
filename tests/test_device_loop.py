"""The device loop end to end on tiny models: a WAV turn through the simulated button into a WAV folder,
a typed turn, and a hands-free tap ended by the real Silero VAD."""

from __future__ import annotations

import io
import re
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from companion.content import load_persona, load_phrases
from companion.device import DeviceLoop
from companion.engines import Engines
from companion.errors import AudioDeviceError
from companion.events import (
    Clause,
    DeviceFault,
    Event,
    ListeningStarted,
    ListenMode,
    StageError,
    Transcript,
    TurnDone,
    Utterance,
)
from companion.llm import LlamaChat, LlmOptions
from companion.microphone import MICROPHONE_RETRY_S
from companion.observers import LightObserver, ObserverHub
from companion.settings import HardwareSettings, Settings, SpeechSettings
from companion.stages.stt import SttOptions, WhisperTranscriber
from companion.stages.tts import PiperSynthesizer, TtsOptions
from companion.stages.vad import SileroVad
from hardware.base import LightPattern
from hardware.factory import Hardware, open_hardware
from hardware.light import ConsoleLight
from hardware.simulated import SimulatedButton, TypedTextInput
from hardware.wav import MemorySink, WavFileSource, write_wav

from harness import datagrams
from minds import make_mind

DIALOGS = Path(__file__).parent.parent / "dialogs"


def tiny_engines(gguf: Path, whisper: Path, voice: Path) -> Engines:
    chat = LlamaChat(
        LlmOptions(
            gguf, "base", context_tokens=4096, max_reply_tokens=7, prompt_tokens=4000, temperature=0.0, seed=1
        ),
        load_persona(DIALOGS, "en"),
    )
    return Engines(
        transcriber=WhisperTranscriber(SttOptions(whisper, "en")),
        chat=chat,
        synthesizer=PiperSynthesizer(TtsOptions(voice)),
        vad=SileroVad(),
        phrases=load_phrases(DIALOGS, "en"),
        language="en",
        mind=make_mind("en", chat=chat),
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def engines(tiny_gguf: Path, tiny_whisper: Path, tiny_piper_voice: Path) -> Engines:
    built = tiny_engines(tiny_gguf, tiny_whisper, tiny_piper_voice)
    built.start()
    return built


def typed_hardware(sink: MemorySink, lines: str) -> Hardware:
    """Typed lines in (no microphone), replies into `sink`."""
    typed = TypedTextInput(io.StringIO(lines), io.StringIO())
    return Hardware(SimulatedButton(), ConsoleLight(io.StringIO()), None, sink, typed, True, "t")


def run_loop(hardware: Hardware, engines: Engines, settings: Settings | None = None) -> list[Event]:
    recorder = Recorder()
    hub = ObserverHub([recorder])
    hardware.start()
    try:
        DeviceLoop(settings or Settings(), hardware, engines, hub).run()
    finally:
        hardware.close()
    return recorder.events


def test_wav_turn_through_the_simulated_button_is_spoken_into_the_wav_folder(
    engines: Engines, speech_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    replies = tmp_path / "replies"
    hardware = open_hardware(
        HardwareSettings(mode="simulated"), replies, simulate=True, input_wav=speech_wav, devices=[]
    )
    events = run_loop(hardware, engines)
    assert ListeningStarted(ListenMode.PUSH_TO_TALK, 0) in events
    utterance = next(e for e in events if isinstance(e, Utterance))
    assert utterance.duration_ms >= 1500
    assert Transcript("hello there", "en") in events
    assert events[-1] == TurnDone(interrupted=False)
    files = sorted(replies.glob("*.wav"))
    assert len(files) == 1
    with wave.open(str(files[0])) as wav:
        assert wav.getframerate() == 22050 and wav.getnframes() > 22050 * 0.5


def test_typed_text_skips_the_recogniser(engines: Engines, tmp_path: Path) -> None:
    sink = MemorySink()
    hardware = Hardware(
        button=SimulatedButton(),
        light=ConsoleLight(io.StringIO()),
        source=None,
        sink=sink,
        text_input=TypedTextInput(io.StringIO("Good morning\n\nHow are you?\n"), io.StringIO()),
        simulated=True,
        description="test",
    )
    events = run_loop(hardware, engines)
    assert [e.text for e in events if isinstance(e, Transcript)] == ["Good morning", "How are you?"]
    assert len(sink.streams) == 2 and all(len(audio) > 0 for _rate, audio in sink.streams)


def test_a_tap_starts_hands_free_listening_that_the_real_vad_ends(
    engines: Engines, tmp_path: Path, speech_wav: Path
) -> None:
    button = SimulatedButton()

    # Tap at the start of the file (press and release within one block); the speech follows after 0.5 s
    # of silence and the file ends in 1.5 s of silence, which the VAD must notice.
    def tap() -> None:
        button.press()
        button.release()

    source = WavFileSource(speech_wav, trailing_silence_ms=1500, on_start=tap)
    sink = MemorySink()
    hardware = Hardware(button, ConsoleLight(io.StringIO()), source, sink, None, True, "test")
    events = run_loop(hardware, engines)
    modes = [e.mode for e in events if isinstance(e, ListeningStarted)]
    assert modes == [ListenMode.PUSH_TO_TALK, ListenMode.HANDS_FREE]
    utterance = next(e for e in events if isinstance(e, Utterance))
    assert utterance.reason.value == "silence"
    assert len(sink.streams) == 1


def test_a_wav_too_short_to_be_held_still_gets_an_answer(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hardware.wav import write_wav

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    short = write_wav(tmp_path / "short.wav", b"\x00\x00" * 1600, 16000)  # 0.1 s: shorter than a tap
    hardware = open_hardware(
        HardwareSettings(mode="simulated"), tmp_path / "replies", simulate=True, input_wav=short, devices=[]
    )
    events = run_loop(hardware, engines)
    assert Transcript("", "en") in events  # nothing heard, and the person is told so
    assert events[-1] == TurnDone(interrupted=False)
    assert len(list((tmp_path / "replies").glob("*.wav"))) == 1


class UnpluggableMicrophone:
    """A USB microphone at real pace (32 ms a block) that a test can pull out and plug back in."""

    rate = 16000

    def __init__(self) -> None:
        self.plugged = threading.Event()
        self.plugged.set()

    def start(self) -> None:
        if not self.plugged.is_set():
            raise AudioDeviceError("No microphone named 'USB' is connected.", "Plug it in.")

    def read(self) -> bytes:
        threading.Event().wait(0.032)
        if not self.plugged.is_set():
            raise AudioDeviceError("The microphone delivered no audio for 2 seconds.", "Check its USB plug.")
        return b"\x00\x00" * 512

    def close(self) -> None:
        pass


class Lights:
    def __init__(self) -> None:
        self.shown: list[LightPattern] = []

    def start(self) -> None:
        pass

    def show(self, pattern: LightPattern) -> None:
        self.shown.append(pattern)

    def now(self) -> LightPattern:
        return self.shown[-1]

    def close(self) -> None:
        pass


def _until(predicate: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = threading.Event()
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return True
        deadline.wait(0.05)
    return predicate()


def test_an_unplugged_microphone_is_shown_answered_with_words_and_taken_back_when_plugged_in(
    engines: Engines,
) -> None:
    microphone, button, lights, sink = UnpluggableMicrophone(), SimulatedButton(), Lights(), MemorySink()
    hardware = Hardware(button, lights, microphone, sink, None, False, "t")
    recorder = Recorder()
    loop = DeviceLoop(Settings(), hardware, engines, ObserverHub([recorder, LightObserver(lights)]))
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    try:
        microphone.plugged.clear()
        assert _until(lambda: DeviceFault("microphone", missing=True) in recorder.events)
        assert lights.now() is LightPattern.ERROR and not loop.microphone_ok
        button.press()
        button.release()  # nothing can be heard: the person is told so, in words
        assert _until(lambda: len(sink.streams) == 1)
        assert _until(lambda: lights.now() is LightPattern.ERROR)  # after the words, still the fault
        assert runner.is_alive()
        microphone.plugged.set()
        assert _until(lambda: DeviceFault("microphone", missing=False) in recorder.events)
        assert lights.now() is LightPattern.IDLE and loop.microphone_ok
    finally:
        loop.close()
        runner.join(10)
    assert MICROPHONE_RETRY_S <= 1  # with the 2-s stall it takes to notice, back within 5 s of a replug
    assert any(isinstance(e, StageError) and e.code == "audio.device" for e in recorder.events)


def test_a_microphone_missing_when_the_companion_starts_is_waited_for_not_a_failed_start(
    engines: Engines,
) -> None:
    microphone, lights = UnpluggableMicrophone(), Lights()
    microphone.plugged.clear()  # the USB speakerphone is not there yet at boot
    hardware = Hardware(SimulatedButton(), lights, microphone, MemorySink(), None, False, "t")
    missing = hardware.start(tolerate_audio=True)
    assert list(missing) == ["microphone"]
    recorder = Recorder()
    loop = DeviceLoop(Settings(), hardware, engines, ObserverHub([recorder, LightObserver(lights)]))
    loop.microphone_missing(missing["microphone"])
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    try:
        assert not loop.microphone_ok and "No microphone" in loop.problem
        assert _until(lambda: len(lights.shown) >= 2) and lights.now() is LightPattern.ERROR  # not "all well"
        microphone.plugged.set()
        assert _until(lambda: DeviceFault("microphone", missing=False) in recorder.events)
        assert loop.microphone_ok
    finally:
        loop.close()
        runner.join(10)
        hardware.close()
    assert not runner.is_alive()
    absent = UnpluggableMicrophone()
    absent.plugged.clear()
    with pytest.raises(AudioDeviceError):  # without the tolerance a missing microphone stops the start
        Hardware(SimulatedButton(), Lights(), absent, MemorySink(), None, False, "t").start()


class MissingSpeaker(MemorySink):
    """A speaker that cannot be opened until `present` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.present = False

    def begin(self, rate: int) -> None:
        if not self.present:
            raise AudioDeviceError("No speaker is connected.", "Plug the speaker in.")
        super().begin(rate)


def test_a_missing_speaker_costs_the_reply_not_the_loop(engines: Engines) -> None:
    sink = MissingSpeaker()
    hardware = typed_hardware(sink, "Good morning\nHow are you?\n")
    recorder = Recorder()

    def plug_in_after_the_first_failure(event: Event) -> None:
        recorder(event)
        if isinstance(event, StageError):
            sink.present = True

    events_hub = ObserverHub([plug_in_after_the_first_failure])
    hardware.start()
    try:
        DeviceLoop(Settings(), hardware, engines, events_hub).run()
    finally:
        hardware.close()
    errors = [e for e in recorder.events if isinstance(e, StageError)]
    assert len(errors) == 1 and errors[0].code == "audio.device"
    assert len(sink.streams) == 1  # the second line was answered once the speaker was back


class SlowSpeaker(MemorySink):
    """Plays each block in 50 ms, like a sound card, so the turn is still speaking when close() comes."""

    def write(self, audio: bytes) -> None:
        super().write(audio)
        threading.Event().wait(0.05)


def test_close_during_a_turn_ends_it_before_the_models_go(engines: Engines) -> None:
    sink = SlowSpeaker()
    gate = threading.Event()
    hardware = typed_hardware(sink, "Tell me a story\n")
    recorder = Recorder()
    hub = ObserverHub([recorder, lambda e: gate.set() if isinstance(e, Transcript) else None])
    loop = DeviceLoop(Settings(), hardware, engines, hub)
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    assert gate.wait(timeout=10)
    loop.close(timeout=10)
    runner.join(timeout=10)
    assert not runner.is_alive()
    engines.close()  # safe now: no turn is using the models
    assert recorder.events[-1] == TurnDone(interrupted=True)


def test_holding_the_button_five_seconds_without_a_word_says_a_pairing_code(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    silence = tmp_path / "held.wav"
    write_wav(silence, bytes(2 * 16000 * 6), 16000)  # six seconds held, nothing said
    hardware = open_hardware(
        HardwareSettings(mode="simulated"), tmp_path / "replies", simulate=True, input_wav=silence, devices=[]
    )
    events = run_loop(hardware, engines)
    said = " ".join(e.text for e in events if isinstance(e, Clause))
    assert re.search(r"The code for the web page is \d( \d){3}, \d( \d){3}\.", said), said
    assert not any(isinstance(e, Transcript) for e in events)  # no recogniser, no model: the code only


def test_a_long_hold_with_words_in_it_is_an_ordinary_turn(
    engines: Engines, speech_wav_16k: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    long_talk = tmp_path / "long.wav"
    write_wav(long_talk, speech_wav_16k + bytes(2 * 16000 * 5), 16000)
    hardware = open_hardware(
        HardwareSettings(mode="simulated"),
        tmp_path / "replies",
        simulate=True,
        input_wav=long_talk,
        devices=[],
    )
    events = run_loop(hardware, engines)
    assert any(isinstance(e, Transcript) for e in events)
    assert "code for the web page" not in " ".join(e.text for e in events if isinstance(e, Clause))


class StuckSpeaker(MemorySink):
    """A sound card whose writes hang until `free` is set: the turn writing to it is wedged."""

    def __init__(self) -> None:
        super().__init__()
        self.free = threading.Event()

    def write(self, audio: bytes) -> None:
        self.free.wait()
        super().write(audio)


def test_the_loop_pings_systemds_watchdog_and_stops_when_a_turn_is_wedged(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from companion.service import Notifier

    monkeypatch.setattr("companion.device.WEDGED_TURN_S", 1.0)
    address = str(tmp_path / "notify")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(address)
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    sink, button = StuckSpeaker(), SimulatedButton()
    hardware = Hardware(button, Lights(), UnpluggableMicrophone(), sink, None, False, "t")
    # No earcon: the reply's first write is then the turn's own, on its thread, and that turn is what wedges.
    settings = Settings(speech=SpeechSettings(earcon=False))
    loop = DeviceLoop(settings, hardware, engines, ObserverHub([]), on_alive=notifier.beat)

    runner = threading.Thread(target=loop.run, daemon=True)
    notifier.ready("listening")  # as `companion run` does, just before the loop
    runner.start()
    try:
        first = datagrams(systemd, 1.0)
        assert first[0] == "READY=1\nSTATUS=listening" and first.count("WATCHDOG=1") >= 3
        button.press()
        threading.Event().wait(0.5)
        button.release()  # a turn whose reply cannot be written: wedged
        assert _until(lambda: loop._player.running_for() > 1.2)  # past the (shortened) limit
        datagrams(systemd, 0.3)  # a ping already on its way
        assert (
            datagrams(systemd, 1.5) == [] and runner.is_alive()
        )  # alive, but silent: systemd would restart it
        sink.free.set()
        assert "WATCHDOG=1" in datagrams(systemd, 2.0)  # the turn ended: the heartbeat is back
    finally:
        sink.free.set()
        loop.close()
        runner.join(10)
        systemd.close()


def test_without_systemd_the_notifier_does_nothing_and_an_abstract_socket_works() -> None:
    import os
    import socket

    from companion.service import Notifier

    quiet = Notifier({})
    assert not quiet.active and quiet.watchdog_interval is None and not quiet.send(READY="1")
    name = f"companion-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0" + name)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
        assert notifier.watchdog_interval is None  # the watchdog is another process's
        notifier.status("the microphone is missing")
        assert systemd.recv(4096) == b"STATUS=the microphone is missing"
