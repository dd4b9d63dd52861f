"""The device loop end to end on tiny models: a WAV turn through the simulated button into a WAV folder,
a typed turn, and a hands-free tap ended by the real Silero VAD."""

from __future__ import annotations

import io
import re
import threading
import wave
from pathlib import Path

import pytest

from companion.content import load_persona, load_phrases
from companion.device import DeviceLoop
from companion.engines import Engines
from companion.errors import AudioDeviceError
from companion.events import (
    Clause,
    Event,
    ListeningStarted,
    ListenMode,
    StageError,
    Transcript,
    TurnDone,
    Utterance,
)
from companion.llm import LlamaChat, LlmOptions
from companion.observers import ObserverHub
from companion.settings import HardwareSettings, Settings
from companion.stages.stt import SttOptions, WhisperTranscriber
from companion.stages.tts import PiperSynthesizer, TtsOptions
from companion.stages.vad import SileroVad
from hardware.factory import Hardware, open_hardware
from hardware.light import ConsoleLight
from hardware.simulated import SimulatedButton, TypedTextInput
from hardware.wav import MemorySink, WavFileSource, write_wav

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


class BrokenMicrophone:
    rate = 16000

    def __init__(self) -> None:
        self.reads = 0

    def start(self) -> None:
        pass

    def read(self) -> bytes:
        self.reads += 1
        if self.reads > 3:
            raise AudioDeviceError("The microphone stopped sending sound.", "Check its USB plug.")
        return b"\x00\x00" * 512

    def close(self) -> None:
        pass


def test_a_failing_microphone_ends_the_loop_with_its_error_not_a_hang(engines: Engines) -> None:
    hardware = Hardware(
        SimulatedButton(), ConsoleLight(io.StringIO()), BrokenMicrophone(), MemorySink(), None, True, "t"
    )
    recorder = Recorder()
    loop = DeviceLoop(Settings(), hardware, engines, ObserverHub([recorder]))
    done = threading.Event()
    caught: list[BaseException] = []

    def run() -> None:
        try:
            loop.run()
        except AudioDeviceError as error:
            caught.append(error)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout=10), "the loop hung after the microphone failed"
    assert caught and "microphone" in str(caught[0])
    assert any(isinstance(e, StageError) and e.code == "audio.device" for e in recorder.events)


class SlowSpeaker(MemorySink):
    """Plays each block in 50 ms, like a sound card, so the turn is still speaking when close() comes."""

    def write(self, audio: bytes) -> None:
        super().write(audio)
        threading.Event().wait(0.05)


def test_close_during_a_turn_ends_it_before_the_models_go(engines: Engines) -> None:
    sink = SlowSpeaker()
    gate = threading.Event()
    text = io.StringIO("Tell me a story\n")
    hardware = Hardware(
        SimulatedButton(),
        ConsoleLight(io.StringIO()),
        None,
        sink,
        TypedTextInput(text, io.StringIO()),
        True,
        "t",
    )
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
