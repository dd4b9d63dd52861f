"""The recogniser's short encoder window, its decoder budget and its guard against a looping decoder.

The window is checked on the real dev model (faster-whisper tiny.en through CTranslate2): what the encoder
is actually given, and that the words still come through. Timings are in benchmarks/ASR.md, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from companion.errors import SettingsError
from companion.events import CAPTURE_RATE
from companion.settings import Settings, data_dir
from companion.stages.stt import (
    SttOptions,
    WhisperTranscriber,
    cut_loops,
    encoder_frames,
    encoder_window,
    recogniser_threads,
    speech_in,
    token_budget,
)

from speech import espeak_wav, pcm_of


def test_a_short_turn_gets_the_short_window_and_a_long_one_the_whole() -> None:
    seconds = CAPTURE_RATE
    assert encoder_frames(3 * seconds, 15.0) == 1500
    assert encoder_frames(10 * seconds, 15.0) == 1500
    assert encoder_frames(11 * seconds, 15.0) is None  # more than two thirds of the window
    assert encoder_frames(3 * seconds, 30.0) is None  # 30 s is Whisper's own window: nothing to cut
    assert encoder_frames(2 * seconds, 5.0) == 500


def test_the_window_is_left_to_the_language_unless_set() -> None:
    from companion.engines import make_transcriber
    from companion.settings import SttSettings
    from models import load_manifest

    whisper = load_manifest().models["whisper-tiny-en"]
    assert (encoder_window(0, "en"), encoder_window(0, "da"), encoder_window(20, "da")) == (15, 30, 20)
    assert make_transcriber(whisper, Settings(), "da").options.encoder_window_s == 30.0
    assert make_transcriber(whisper, Settings(), "en").options.encoder_window_s == 15.0
    chosen = Settings(stt=SttSettings(encoder_window_s=20.0))
    assert make_transcriber(whisper, chosen, "da").options.encoder_window_s == 20.0
    with pytest.raises(SettingsError, match="too short"):
        make_transcriber(whisper, Settings(stt=SttSettings(encoder_window_s=2.0)), "da")


def test_the_decoder_budget_grows_with_the_speech_and_leaves_the_prompt_its_room() -> None:
    assert token_budget(0) == 10
    assert token_budget(2 * CAPTURE_RATE) == 30
    assert token_budget(60 * CAPTURE_RATE) == 180
    assert token_budget(60 * CAPTURE_RATE, prompt_tokens=300) == 147  # 448 positions in all
    assert token_budget(60 * CAPTURE_RATE, prompt_tokens=440) is None  # too little room: Whisper's own limit


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        ("Svigen, Søren, Søren, Søren, Søren, Søren, Søren, Søren", "Svigen, Søren"),
        ("tak for kaffe tak for kaffe tak for kaffe tak for kaffe. Farvel", "tak for kaffe. Farvel"),
        ("ja ja ja ja", "ja"),
        ("Nej, nej, nej, nej.", "Nej."),
    ],
)
def test_a_looping_decoder_is_cut_to_one_phrase(heard: str, kept: str) -> None:
    assert cut_loops(heard) == (kept, True)


@pytest.mark.parametrize(
    "heard",
    [
        "Nej, nej, nej, det vil jeg ikke.",
        "Mind mig om at ringe til Birthe i morgen.",
        "",
        "ja ja ja",
        "Ring til 22 22 22 22.",  # a telephone number, said in pairs
    ],
)
def test_what_people_say_is_left_alone(heard: str) -> None:
    assert cut_loops(heard) == (heard, False)


def test_threads_follow_the_cores_up_to_four(monkeypatch: pytest.MonkeyPatch) -> None:
    options = SttOptions(Path("unused"), "da")
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert recogniser_threads(options) == 2
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert recogniser_threads(options) == 4
    assert recogniser_threads(SttOptions(Path("unused"), "da", threads=3)) == 3


class _LoopingWhisper:
    """Stands in for faster-whisper's model: the decoder loops on a name, with a confident score."""

    encoder_frames: int | None = None
    hf_tokenizer = None

    def transcribe(self, audio: Any, **options: Any) -> tuple[Iterator[Any], None]:
        self.options = options
        looping = "Svigen, " + ", ".join(["Søren"] * 30)
        return iter([SimpleNamespace(text=looping, avg_logprob=-0.2)]), None


def test_a_loop_is_cut_and_heard_unsurely_so_the_companion_asks(speech_wav_16k: bytes) -> None:
    transcriber = WhisperTranscriber(SttOptions(Path("unused"), "da"))
    fake = _LoopingWhisper()
    transcriber._model = fake
    heard = transcriber.transcribe(speech_wav_16k)
    assert (heard.text, heard.sure) == ("Svigen, Søren", False)
    # The budget is that of the speech, silence trimmed: more than nothing, less than the whole recording's.
    assert token_budget(0) < fake.options["max_new_tokens"] < token_budget(len(speech_wav_16k) // 2, 0)


@pytest.fixture(scope="module")
def dev_whisper() -> Path:
    from models import load_manifest
    from models.locate import model_path

    manifest = load_manifest()
    return model_path(manifest.models[manifest.profile("dev").stt], data_dir(Settings()))


class _EncoderSpy:
    """Wraps CTranslate2's Whisper model and notes the length of every input the encoder gets."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.frames: list[int] = []

    def encode(self, features: Any, **options: Any) -> Any:
        self.frames.append(int(features.shape[-1]))
        return self._model.encode(features, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _heard_with_window(model: Path, audio: bytes, window_s: float) -> tuple[str, list[int]]:
    transcriber = WhisperTranscriber(SttOptions(model, "en", encoder_window_s=window_s))
    transcriber.start()
    spy = _EncoderSpy(transcriber._model.model)
    transcriber._model.model = spy
    return transcriber.transcribe(audio).text, spy.frames


@pytest.mark.dev_models
def test_the_real_encoder_gets_the_short_window_and_still_hears(
    dev_whisper: Path, speech_wav_16k: bytes
) -> None:
    short_text, short_frames = _heard_with_window(dev_whisper, speech_wav_16k, 15.0)
    whole_text, whole_frames = _heard_with_window(dev_whisper, speech_wav_16k, 30.0)
    assert (short_frames, whole_frames) == ([1500], [3000])
    assert "garden" in short_text.lower() and "garden" in whole_text.lower()


@pytest.mark.dev_models
def test_a_turn_too_long_for_the_window_gets_all_thirty_seconds(dev_whisper: Path, tmp_path: Path) -> None:
    sentence = "On Tuesday I went to the garden and planted roses with my neighbour. "
    audio = pcm_of(espeak_wav(sentence * 3, tmp_path / "long.wav"))  # about 14 s of speech
    assert 11 < len(audio) / 2 / CAPTURE_RATE < 20
    text, frames = _heard_with_window(dev_whisper, audio, 15.0)
    assert frames == [3000]
    assert text.lower().count("garden") >= 2


@pytest.mark.dev_models
def test_long_hints_and_a_long_prompt_leave_the_decoder_room(dev_whisper: Path, tmp_path: Path) -> None:
    """faster-whisper refuses a prompt and a budget above Whisper's 448 positions: the budget gives way."""
    sentence = "On Tuesday I went to the garden and planted roses with my neighbour. "
    audio = pcm_of(espeak_wav(sentence * 3, tmp_path / "long.wav"))
    prompt = "My neighbour and I talk about the roses, the tulips and the garden on Tuesdays. " * 12
    hints = ", ".join(["Birthe", "Søren", "Mette", "Kirsten", "Anne-Marie"] * 8)
    transcriber = WhisperTranscriber(SttOptions(dev_whisper, "en", initial_prompt=prompt))
    transcriber.hotwords = hints
    transcriber.start()
    faster_whisper_transcribe = transcriber._model.transcribe
    given: dict[str, Any] = {}

    def noting(audio: Any, **options: Any) -> Any:
        given.update(options)
        return faster_whisper_transcribe(audio, **options)

    transcriber._model.transcribe = noting
    assert transcriber.transcribe(audio).text  # words (a prompt this long steers them), not an error
    assert given["max_new_tokens"] + transcriber._prompt_tokens() < 448
    # What the budget alone would have met:
    with pytest.raises(ValueError, match="max_length"):
        segments, _ = faster_whisper_transcribe(
            speech_in(audio, 0.5), **{**given, "max_new_tokens": token_budget(len(audio) // 2)}
        )
        list(segments)
