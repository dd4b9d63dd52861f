"""The second recogniser backend: a NeMo CTC model in sherpa-onnx's real format (tests/tiny_models.py makes a
tiny one), chosen per model in the manifest, heard through the same harness as Whisper."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from companion.asr_eval import evaluate, find_samples
from companion.engines import build_engines
from companion.errors import ModelError
from companion.settings import Settings
from companion.stages.stt import SttOptions
from companion.stages.stt_sherpa import SherpaCtcTranscriber
from models.manifest import load_manifest

from speech import espeak_wav
from tiny_models import NEMO_CTC_WORD, make_tiny_nemo_ctc


def _manifest(path: Path, model: Path, backend_line: str = 'backend = "sherpa-onnx-nemo-ctc"') -> Path:
    files = "\n".join(
        f'[[models.t-stt.files]]\nname = "{name}"\nsize = {(model / name).stat().st_size}\n'
        f'sha256 = "{hashlib.sha256((model / name).read_bytes()).hexdigest()}"\nurl = "http://127.0.0.1:9/{name}"'
        for name in ("model.onnx", "tokens.txt")
    )
    others = (
        '[models.t-llm]\nkind = "llm"\nprompt_style = "chat"\nsource = "https"\nlanguage = "da"\n'
        'licence = "MIT"\n'
        'ram_mb = 10\n[[models.t-llm.files]]\nname = "tiny.gguf"\nsize = 1\nsha256 = "' + "0" * 64 + '"\n'
        'url = "http://127.0.0.1:9/tiny.gguf"\n'
        '[models.t-tts]\nkind = "tts"\nsource = "https"\nlanguage = "da"\nlicence = "MIT"\nram_mb = 10\n'
        '[[models.t-tts.files]]\nname = "v.onnx"\nsize = 1\nsha256 = "'
        + "0"
        * 64
        + '"\nurl = "http://127.0.0.1:9/v"\n'
        '[[models.t-tts.files]]\nname = "v.onnx.json"\nsize = 1\nsha256 = "' + "0" * 64 + '"\n'
        'url = "http://127.0.0.1:9/j"\n'
    )
    path.write_text(
        'schema = 1\n[profiles.test]\nlanguage = "da"\nllm = "t-llm"\nstt = "t-stt"\ntts = "t-tts"\n'
        + others
        + f'[models.t-stt]\nkind = "stt"\n{backend_line}\nsource = "https"\nlanguage = "da"\n'
        'licence = "MIT"\n'
        "ram_mb = 10\n" + files + "\n",
        encoding="utf-8",
    )
    return path


def test_the_tiny_nemo_ctc_model_is_heard_through_sherpa_onnx(tmp_path: Path) -> None:
    model = make_tiny_nemo_ctc(tmp_path / "ctc")
    wav = espeak_wav("Jeg vil gerne have en kop kaffe.", tmp_path / "kaffe.wav", voice="da")
    (tmp_path / "kaffe.txt").write_text("kaffe", encoding="utf-8")
    transcriber = SherpaCtcTranscriber(SttOptions(model, "da"))
    transcriber.start()
    report = evaluate(transcriber, find_samples(tmp_path), "tiny-nemo-ctc")
    transcriber.close()
    (heard,) = report.files
    assert heard.heard == NEMO_CTC_WORD and heard.sure and heard.wer == 0.0
    assert wav.is_file()


def test_the_manifest_chooses_the_backend_per_model(tmp_path: Path) -> None:
    data = tmp_path / "data"
    model = make_tiny_nemo_ctc(data / "models" / "t-stt")
    manifest = _manifest(tmp_path / "manifest.toml", model)
    settings = Settings().with_data_dir(data)
    settings = replace(settings, general=replace(settings.general, model_profile="test", language="da"))
    engines = build_engines(settings, hearing=True, manifest_path=manifest)
    assert isinstance(engines.transcriber, SherpaCtcTranscriber)
    engines.transcriber.start()
    assert engines.transcriber.transcribe(b"\x00\x10" * 16000).text in ("", NEMO_CTC_WORD)


def test_a_sherpa_model_without_its_tokens_or_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    model = make_tiny_nemo_ctc(tmp_path / "ctc")
    with pytest.raises(ModelError, match="backend is for an stt model only"):
        load_manifest(_manifest(tmp_path / "a.toml", model, 'backend = "kaldi"'))
    text = (
        _manifest(tmp_path / "b.toml", model).read_text().replace('name = "tokens.txt"', 'name = "words.txt"')
    )
    (tmp_path / "b.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match=r"needs model\.onnx and tokens\.txt"):
        load_manifest(tmp_path / "b.toml")
