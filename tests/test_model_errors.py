"""A missing or corrupt model file names the file and the fix, never a traceback from a library."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from companion.errors import ModelError
from companion.stages.stt import SttOptions, WhisperTranscriber
from companion.stages.tts import PiperSynthesizer, TtsOptions


def test_missing_recogniser(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        WhisperTranscriber(SttOptions(tmp_path / "nothing", "en")).start()
    assert "model.bin" in str(caught.value) and "companion models install" in str(caught.value)


def test_corrupt_recogniser(tiny_whisper: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny_whisper, tmp_path / "whisper")
    (broken / "model.bin").write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError) as caught:
        WhisperTranscriber(SttOptions(broken, "en")).start()
    assert str(broken) in str(caught.value) and "companion models" in str(caught.value)


def test_missing_voice_config(tiny_piper_voice: Path, tmp_path: Path) -> None:
    lonely = tmp_path / "voice.onnx"
    shutil.copy(tiny_piper_voice, lonely)
    with pytest.raises(ModelError, match=r"voice\.onnx\.json"):
        PiperSynthesizer(TtsOptions(lonely)).start()


def test_corrupt_voice(tiny_piper_voice: Path, tmp_path: Path) -> None:
    broken = tmp_path / "voice.onnx"
    broken.write_bytes(b"\x00garbage" * 50)
    shutil.copy(f"{tiny_piper_voice}.json", f"{broken}.json")
    with pytest.raises(ModelError) as caught:
        PiperSynthesizer(TtsOptions(broken)).start()
    assert "voice.onnx" in str(caught.value) and "companion models" in str(caught.value)
