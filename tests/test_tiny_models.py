"""The tiny generated models load and run through the real libraries and behave as tiny_models promises.

Generation times are printed (run with -s to see them), never asserted: timings on shared CI machines
are noise, and a slow generator shows up as a slow suite anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest

from tiny_models import (
    GGUF_END_OF_TURN,
    GGUF_REPLY,
    PIPER_SAMPLE_RATE,
    PIPER_SAMPLES_PER_ID,
    make_tiny_gguf,
    make_tiny_piper_voice,
    make_tiny_whisper,
)

T = TypeVar("T")

WHISPER_RATE = 16_000


def _timed(label: str, make: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = make()
    print(f"\n{label} generated in {(time.perf_counter() - start) * 1000:.1f} ms")
    return result


def _speech_like_noise(seconds: float, seed: int = 7) -> npt.NDArray[np.float32]:
    # Noise under a ~4 Hz syllable envelope: loud, bursty and nothing like the phrase the model emits.
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * WHISPER_RATE)) / WHISPER_RATE
    envelope = 0.5 * (1.0 + np.sin(2.0 * np.pi * 4.0 * t))
    return (0.3 * envelope * rng.standard_normal(t.size)).astype(np.float32)


def _tone(seconds: float, hz: float = 440.0) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * WHISPER_RATE)) / WHISPER_RATE
    return (0.3 * np.sin(2.0 * np.pi * hz * t)).astype(np.float32)


# --------------------------------------------------------------------------------------------- GGUF


@pytest.fixture(scope="module")
def llm(tiny_gguf: Path) -> Any:
    llama_cpp = pytest.importorskip("llama_cpp")
    return llama_cpp.Llama(model_path=str(tiny_gguf), n_ctx=512, verbose=False)


def test_gguf_generates_and_is_deterministic(tmp_path: Path) -> None:
    first = _timed("GGUF", lambda: make_tiny_gguf(tmp_path / "a.gguf"))
    second = make_tiny_gguf(tmp_path / "b.gguf")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[:4] == b"GGUF"


def test_gguf_vocabulary_chat_template_and_end_of_turn(llm: Any) -> None:
    end_of_turn = llm.tokenize(GGUF_END_OF_TURN.encode(), add_bos=False, special=True)
    assert len(end_of_turn) == 1, "control tokens must be parsed as one special token"
    assert llm.token_eos() == end_of_turn[0]
    assert "tokenizer.chat_template" in llm.metadata
    # The GGUF's own template is used rather than llama-cpp-python's llama-2 fallback.
    assert llm.chat_format == "chat_template.default"


def test_gguf_completion_streams_the_reply_in_pieces(llm: Any) -> None:
    chunks = list(llm.create_completion("Hej, hvordan går det?", max_tokens=20, stream=True, stop=["\n"]))
    pieces = [c["choices"][0]["text"] for c in chunks if c["choices"][0]["text"]]
    assert len(pieces) > 5
    text = "".join(pieces)
    assert text.startswith(GGUF_REPLY)
    assert text.isprintable()
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_gguf_max_tokens_caps_the_stream(llm: Any) -> None:
    chunks = list(llm.create_completion("Person: Hej\nCompanion:", max_tokens=3, stream=True))
    pieces = [c["choices"][0]["text"] for c in chunks if c["choices"][0]["text"]]
    assert pieces == ["Hello", " there.", " How"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_gguf_reply_retokenizes_to_as_many_tokens_as_were_generated(llm: Any) -> None:
    pieces = [c["choices"][0]["text"] for c in llm.create_completion("Hej", max_tokens=8, stream=True)]
    assert len(llm.tokenize("".join(pieces).encode(), add_bos=False)) == 8


def test_gguf_prompt_ending_in_a_reply_word_continues_from_it(llm: Any) -> None:
    result = llm.create_completion("Well, how are", max_tokens=2)
    assert result["choices"][0]["text"] == " you today?"


def test_gguf_stop_string_cuts_the_stream(llm: Any) -> None:
    result = llm.create_completion("Hej", max_tokens=20, stop=["How"])
    assert result["choices"][0]["text"] == "Hello there. "
    assert result["choices"][0]["finish_reason"] == "stop"


def test_gguf_chat_completion_streams(llm: Any) -> None:
    messages = [
        {"role": "system", "content": "Du er en venlig maskine."},
        {"role": "user", "content": "Hej!"},
    ]
    chunks = list(llm.create_chat_completion(messages, stream=True, max_tokens=20))
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant"}
    contents = [d["content"] for d in deltas if d.get("content")]
    assert len(contents) > 5
    assert "".join(contents).startswith(GGUF_REPLY)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_gguf_with_end_turn_stops_by_itself(tmp_path: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    path = make_tiny_gguf(tmp_path / "ends.gguf", reply="Hej med dig.", end_turn=True)
    model = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)
    chunks = list(
        model.create_chat_completion([{"role": "user", "content": "Hej"}], stream=True, max_tokens=50)
    )
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Hej med dig."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_gguf_rejects_a_reply_it_could_not_say() -> None:
    with pytest.raises(ValueError, match="distinct"):
        make_tiny_gguf(Path("unused.gguf"), reply="ja ja")


# ------------------------------------------------------------------------------------------ Whisper


@pytest.mark.parametrize(
    ("phrase", "multilingual", "language"),
    [("hello there", True, None), ("hej med dig", True, "da"), ("hello there", False, None)],
)
def test_whisper_generates_and_is_deterministic(
    tmp_path: Path, phrase: str, multilingual: bool, language: str | None
) -> None:
    first = _timed(
        f"Whisper {phrase!r} multilingual={multilingual}",
        lambda: make_tiny_whisper(tmp_path / "a", phrase, multilingual=multilingual, language=language),
    )
    second = make_tiny_whisper(tmp_path / "b", phrase, multilingual=multilingual, language=language)
    for name in ("model.bin", "config.json", "vocabulary.json", "tokenizer.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _transcribe(model: Any, audio: npt.NDArray[np.float32], language: str | None) -> tuple[str, Any]:
    segments, info = model.transcribe(
        audio,
        language=language,
        beam_size=1,
        temperature=0.0,
        without_timestamps=True,
        condition_on_previous_text=False,
    )
    return "".join(s.text for s in segments).strip(), info


@pytest.mark.parametrize(
    "audio",
    [_speech_like_noise(3.0), _tone(1.0), _tone(5.0, hz=220.0)],
    ids=["noise-3s", "tone-1s", "tone-5s"],
)
def test_whisper_hears_its_phrase_in_any_audio(tiny_whisper: Path, audio: npt.NDArray[np.float32]) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(tiny_whisper), device="cpu", compute_type="int8")
    assert model.model.is_multilingual
    text, info = _transcribe(model, audio, "en")
    assert text == "hello there"
    assert info.language == "en"


def test_whisper_danish_is_really_danish(tiny_whisper_da: Path) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(tiny_whisper_da), device="cpu", compute_type="int8")
    assert model.model.is_multilingual
    text, info = _transcribe(model, _speech_like_noise(2.0), "da")
    assert (text, info.language) == ("hej med dig", "da")
    # Language detection goes through the decoder too, and the model was told to "hear" Danish.
    text, info = _transcribe(model, _tone(1.5), None)
    assert (text, info.language) == ("hej med dig", "da")
    assert info.language_probability > 0.9


def test_whisper_default_transcribe_options_also_give_the_phrase(tiny_whisper: Path) -> None:
    from faster_whisper import WhisperModel

    # Defaults mean beam search, temperature fallback and timestamp tokens; none may change the text.
    model = WhisperModel(str(tiny_whisper), device="cpu", compute_type="int8")
    segments, info = model.transcribe(_speech_like_noise(2.0))
    assert [s.text.strip() for s in segments] == ["hello there"]
    assert info.language == "en"


def test_whisper_english_only_model(tmp_path: Path) -> None:
    from faster_whisper import WhisperModel

    directory = make_tiny_whisper(tmp_path / "en", "good morning", multilingual=False)
    model = WhisperModel(str(directory), device="cpu", compute_type="int8")
    assert not model.model.is_multilingual
    assert _transcribe(model, _tone(1.0), "en")[0] == "good morning"


def test_whisper_repeated_words_and_non_ascii(tmp_path: Path) -> None:
    from faster_whisper import WhisperModel

    directory = make_tiny_whisper(tmp_path / "da", "blå blå æbler", language="da")
    model = WhisperModel(str(directory), device="cpu", compute_type="int8")
    assert _transcribe(model, _tone(1.0), "da")[0] == "blå blå æbler"


# -------------------------------------------------------------------------------------------- Piper


@pytest.fixture(scope="module")
def voice(tiny_piper_voice: Path) -> Any:
    from piper import PiperVoice

    return PiperVoice.load(tiny_piper_voice)


def _synthesize(voice: Any, text: str, length_scale: float = 1.0) -> list[Any]:
    from piper import SynthesisConfig

    return list(voice.synthesize(text, SynthesisConfig(length_scale=length_scale, volume=1.0)))


@pytest.mark.parametrize("language", ["en", "da"])
def test_piper_generates_and_is_deterministic(tmp_path: Path, language: str) -> None:
    first = _timed(f"Piper {language}", lambda: make_tiny_piper_voice(tmp_path / "a", language))
    second = make_tiny_piper_voice(tmp_path / "b", language)
    assert first.suffix == ".onnx"
    assert first.read_bytes() == second.read_bytes()
    assert Path(f"{first}.json").read_bytes() == Path(f"{second}.json").read_bytes()


def test_piper_one_chunk_per_sentence_with_length_from_phonemes(voice: Any) -> None:
    chunks = _synthesize(voice, "Hello there. How are you?")
    assert len(chunks) == 2
    for chunk in chunks:
        assert chunk.sample_rate == PIPER_SAMPLE_RATE
        samples = np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16)
        assert samples.size == PIPER_SAMPLES_PER_ID * len(chunk.phoneme_ids)
        # Piper normalises each chunk's peak, so a tone is loud whatever the model's amplitude.
        assert np.abs(samples).max() > 30_000


def test_piper_longer_text_gives_longer_audio(voice: Any) -> None:
    short = _synthesize(voice, "Hi.")
    long = _synthesize(voice, "Hello there, it is lovely to hear from you this morning.")
    assert len(short) == len(long) == 1
    assert len(long[0].audio_int16_bytes) > 3 * len(short[0].audio_int16_bytes)


def test_piper_length_scale_stretches_audio(voice: Any) -> None:
    normal = _synthesize(voice, "Hello there.")[0]
    slow = _synthesize(voice, "Hello there.", length_scale=2.0)[0]
    assert len(slow.audio_int16_bytes) == 2 * len(normal.audio_int16_bytes)


def test_piper_danish_voice_phonemises_danish(tmp_path: Path) -> None:
    from piper import PiperVoice

    danish = PiperVoice.load(make_tiny_piper_voice(tmp_path, "da"))
    assert danish.config.espeak_voice == "da"
    chunks = _synthesize(danish, "Hej med dig. Hvordan går det?")
    assert len(chunks) == 2
    assert all(len(c.audio_int16_bytes) > 0 for c in chunks)
