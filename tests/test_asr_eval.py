"""`companion eval-asr`: the folder's layout, the counting of words, and the figures it reports. The real
recogniser on real speech runs in tests/test_dev_models.py; here a recogniser that gives back set words
makes every count checkable by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.asr_eval import as_json, evaluate, find_samples, normalise, table
from companion.errors import CompanionError
from companion.events import Transcript

from speech import espeak_wav


class SetWords:
    """Hears what it is told it heard, in a set time: the harness's sums, not a recogniser, under test."""

    def __init__(self, heard: dict[int, str]) -> None:
        self.heard = heard

    def transcribe(self, audio: bytes) -> Transcript:
        return Transcript(self.heard[len(audio)], "da")


class Ticks:
    """A clock that moves `step` seconds at each reading: each recognition takes `step`."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _recording(folder: Path, name: str, said: str, spoken: str = "one two three") -> Path:
    wav = espeak_wav(spoken, folder / f"{name}.wav")
    (folder / f"{name}.txt").write_text(said + "\n", encoding="utf-8")
    return wav


def test_words_are_compared_written_alike() -> None:
    assert normalise("Hej, Anne! Kommer du i morgen?") == "hej anne kommer du i morgen"
    assert normalise("  Læsegruppen   —  på   BIBLIOTEKET.") == "læsegruppen på biblioteket"


def test_the_folder_must_hold_recordings_with_their_transcripts(tmp_path: Path) -> None:
    with pytest.raises(CompanionError, match="no WAV files"):
        find_samples(tmp_path)
    espeak_wav("one two", tmp_path / "kaffe.wav")
    with pytest.raises(CompanionError, match=r"kaffe\.txt") as missing:
        find_samples(tmp_path)
    assert "Beside each kaffe.wav" in missing.value.fix
    (tmp_path / "kaffe.txt").write_text(" ... \n", encoding="utf-8")
    with pytest.raises(CompanionError, match="has no words"):
        find_samples(tmp_path)
    with pytest.raises(CompanionError, match="There is no folder"):
        find_samples(tmp_path / "nowhere")


def test_errors_rates_and_times_are_counted_per_file_and_over_all(tmp_path: Path) -> None:
    first = _recording(tmp_path, "a_kaffe", "Jeg vil gerne have kaffe.", "one two three")
    second = _recording(tmp_path, "b_anne", "Ring til Anne i morgen", "one two three four five six")
    samples = find_samples(tmp_path)
    from hardware.wav import read_as_captured

    sizes = [len(read_as_captured(first)), len(read_as_captured(second))]
    recogniser = SetWords({sizes[0]: "jeg vil gerne have kaffe", sizes[1]: "ring til hanne i morgen tak"})
    report = evaluate(recogniser, samples, "test", clock=Ticks(0.5))
    kaffe, anne = report.files
    assert (kaffe.words, kaffe.errors, kaffe.wer) == (5, 0, 0.0)
    assert (anne.words, anne.errors) == (5, 2)  # Anne → Hanne, and "tak" added
    assert (report.words, report.errors, report.wer) == (10, 2, 0.2)
    assert kaffe.recognition_s == pytest.approx(0.5) and kaffe.rtf == pytest.approx(0.5 / kaffe.audio_s)
    assert report.audio_s == pytest.approx(sizes[0] / 32000 + sizes[1] / 32000)
    assert report.after_speech_p95_s == pytest.approx(0.5)
    shown = table(report)
    assert "WER 20.0%" in shown and "ring til hanne i morgen tak" in shown
    data = json.loads(as_json(report))
    assert data["schema"] == "companion-asr-eval/1" and data["files"][1]["errors"] == 2


def test_eval_asr_on_the_pi_profile_hears_danish_with_the_profiles_model(
    tiny_whisper_da: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pi-da profile as a Pi has it: its speech model in the data directory (here a tiny one in the real
    format, which hears "hej med dig" in anything), Danish taken from the profile, hints from the settings."""
    import shutil

    from companion.cli import main

    data = tmp_path / "data"
    shutil.copytree(tiny_whisper_da, data / "models" / "faster-whisper-small")
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[general]\ndata_dir = "{data}"\nmodel_profile = "pi-da"\n[mind]\nrelatives = ["Birthe:datter"]\n',
        encoding="utf-8",
    )
    folder = tmp_path / "sætninger"
    folder.mkdir()
    for name, said in (("hej", "Hej med dig."), ("godmorgen", "Godmorgen, Birthe.")):
        espeak_wav(said, folder / f"{name}.wav", voice="da")
        (folder / f"{name}.txt").write_text(said, encoding="utf-8")

    assert main(["--config", str(config), "eval-asr", str(folder), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "Speech recognition with faster-whisper-small (pi-da): 2 recordings" in out
    assert "hints: Birthe" in out
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {row["name"]: row["wer"] for row in report["files"]} == {"hej": 0.0, "godmorgen": 1.5}

    # A coordinator who found the names cost more than they give turns them off for the device and here.
    config.write_text(config.read_text(encoding="utf-8") + "[stt]\nname_hints = false\n", encoding="utf-8")
    assert main(["--config", str(config), "eval-asr", str(folder)]) == 0
    assert "hints: (none)" in capsys.readouterr().out

    # Another model of the manifest, not installed here: said so, with the command that installs it.
    assert main(["--config", str(config), "eval-asr", str(folder), "--model", "faster-whisper-base"]) == 1
    err = capsys.readouterr().err
    assert "faster-whisper-base is not installed here" in err
    assert "companion models install faster-whisper-base" in err
