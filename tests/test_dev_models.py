"""End to end on the real `dev` models from PyPI, through the `companion` command as a person runs it.

Slower than the tiny-model tests (the models load in about two seconds) but they run in CI too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from speech import espeak_wav

pytestmark = pytest.mark.dev_models


@pytest.fixture(scope="module")
def dev_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A data directory with the dev models installed, and settings pointing at it."""
    home = tmp_path_factory.mktemp("dev")
    config = home / "companion.toml"
    config.write_text(
        f'[general]\ndata_dir = "{home / "data"}"\n[hardware]\nmode = "simulated"\n[llm]\nseed = 7\n'
    )
    env = {**os.environ, "COMPANION_CONFIG": str(config)}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    result = companion(["models", "install", "dev", "--no-progress"], env)
    assert result.returncode == 0, result.stderr
    return env


def companion(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "companion.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_spoken_wav_turn_gets_a_spoken_reply(dev_env: dict[str, str], tmp_path: Path) -> None:
    wav = espeak_wav("Hello, I would like to talk about my garden.", tmp_path / "turn.wav", lead_ms=300)
    result = companion(["run", "--input-wav", str(wav)], dev_env)
    assert result.returncode == 0, result.stderr
    heard = next(line for line in result.stdout.splitlines() if line.startswith("you> "))
    assert "garden" in heard.lower()
    assert "companion> " in result.stdout
    replies = sorted((Path(dev_env["COMPANION_CONFIG"]).parent / "data" / "replies").glob("reply-*.wav"))
    assert replies
    with wave.open(str(replies[-1])) as reply:
        assert reply.getframerate() == 22050
        assert reply.getnframes() > 22050 // 2  # earcon plus at least some speech


def test_say_then_transcribe_round_trip(dev_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "said.wav"
    said = companion(
        ["say", "Good morning. The reading group meets on Thursday.", "--out", str(out)], dev_env
    )
    assert said.returncode == 0, said.stderr
    heard = companion(["transcribe", str(out)], dev_env)
    assert heard.returncode == 0, heard.stderr
    assert "reading group" in heard.stdout.lower()


def test_chat_answers_typed_text_and_speaks_it(dev_env: dict[str, str], tmp_path: Path) -> None:
    result = companion(["chat", "--speak", str(tmp_path / "spoken")], dev_env, stdin="Hello there.\n")
    assert result.returncode == 0, result.stderr
    assert "companion> " in result.stdout
    assert len(list((tmp_path / "spoken").glob("*.wav"))) == 1


def test_doctor_names_models_and_the_simulated_hardware(dev_env: dict[str, str]) -> None:
    result = companion(["doctor"], dev_env)
    assert result.returncode == 0, result.stdout
    assert "gemma" in result.stdout.lower()
    assert "OK" in result.stdout
    assert "Microphone" in result.stdout and "GPIO" in result.stdout


def test_speech_over_thirty_seconds_is_cut_and_still_understood(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    sentence = "On Tuesday I went to the garden and planted roses with my neighbour. "
    wav = espeak_wav(sentence * 8, tmp_path / "long.wav")  # about 55 s
    result = companion(["run", "--input-wav", str(wav)], dev_env)
    assert result.returncode == 0, result.stderr
    heard = next(line for line in result.stdout.splitlines() if line.startswith("you> "))
    assert heard.lower().count("garden") >= 3  # the first 30 s, transcribed, not an empty or one-word guess


def test_say_refuses_text_with_nothing_to_say(dev_env: dict[str, str], tmp_path: Path) -> None:
    result = companion(["say", "😊 ★", "--out", str(tmp_path / "x.wav")], dev_env)
    assert result.returncode == 1 and "nothing" in result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_missing_model_is_named_with_its_fix(tmp_path: Path) -> None:
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path / "empty"}"\n[hardware]\nmode = "simulated"\n')
    env = {**os.environ, "COMPANION_CONFIG": str(config)}
    result = companion(["run"], env)
    assert result.returncode == 1
    assert "gemma-3-270m-q4_k_m.gguf" in result.stderr
    assert "companion models install" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_stop_start_up_with_a_plain_message(tmp_path: Path) -> None:
    config = tmp_path / "companion.toml"
    config.write_text("[speech]\nlength_scale = 9\n")
    result = companion(["run"], {**os.environ, "COMPANION_CONFIG": str(config)})
    assert result.returncode == 2
    assert "length_scale = 9" in result.stderr and "between 0.5 and 2" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("when", ["idle", "mid-turn"])
def test_sigterm_and_ctrl_c_close_everything_and_exit_0(
    dev_env: dict[str, str], how: signal.Signals, when: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "companion.cli", "run"],
        env=dev_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    seen = ""
    while "ready" not in seen and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
    assert "ready" in seen, seen
    if when == "mid-turn":
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("Please tell me a long story about your garden.\n")
        process.stdin.flush()
        for line in process.stdout:  # the typed prompt "> " may lead the line
            if "you> " in line:
                break  # the turn has begun: the LLM and the voice are at work
    process.send_signal(how)
    code = process.wait(timeout=30)
    assert code == 0, process.stderr.read()


SHARED_SCENARIOS = sorted((Path(__file__).parent.parent.parent / "shared" / "scenarios").glob("*.toml"))


def test_eval_dialog_with_the_dev_model_passes_the_shared_scenarios(dev_env: dict[str, str]) -> None:
    result = companion(["eval-dialog", *map(str, SHARED_SCENARIOS), "--llm", "dev"], dev_env)
    assert result.returncode == 0, result.stdout + result.stderr
    passed, failed = result.stdout.strip().splitlines()[-1].split(", ")
    assert failed == "0 failed" and int(passed.split()[0]) >= 29


def test_chat_keeps_the_policy_and_its_memory_across_runs(dev_env: dict[str, str]) -> None:
    """`companion chat` runs the Mind: the crisis line comes from dialogs/, "leave me alone" is kept on
    disk (no words of the conversation are), and a new run honours it."""
    first = companion(["chat"], dev_env, stdin="I don't want to live anymore.\nLeave me alone.\n")
    assert first.returncode == 0, first.stderr
    assert "Livslinien" in first.stdout and "70 201 201" in first.stdout
    memory = Path(dev_env["COMPANION_CONFIG"]).parent / "data" / "mind.json"
    kept = memory.read_text(encoding="utf-8")
    assert '"paused_until_asked": true' in kept
    assert "live" not in kept.lower() and "alone" not in kept.lower()
    second = companion(["chat"], dev_env, stdin="I love reading novels.\n")
    assert second.returncode == 0, second.stderr
    assert "reading group" not in second.stdout.lower()


def test_the_web_page_crashing_leaves_the_speech_loop_talking(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    """Two processes on one data folder, as the two services run them: the web page is killed outright
    (a crash), and the companion goes on answering."""
    from web_pages import free_port, login_answers

    port = free_port()
    config = tmp_path / "both.toml"
    config.write_text(
        Path(dev_env["COMPANION_CONFIG"]).read_text() + f'[web]\nhost = "127.0.0.1"\nport = {port}\n'
    )
    env = {**dev_env, "COMPANION_CONFIG": str(config)}
    device = subprocess.Popen(
        [sys.executable, "-m", "companion.cli", "run"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    web = subprocess.Popen(
        [sys.executable, "-m", "companion.cli", "web"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert login_answers(port, web) == 200, "the web page did not come up"
        web.send_signal(signal.SIGKILL)
        assert web.wait(timeout=10) == -signal.SIGKILL
        assert device.stdin is not None and device.stdout is not None
        device.stdin.write("Hello, how are you today?\n")
        device.stdin.flush()
        replied = threading.Event()

        def read_reply() -> None:
            assert device.stdout is not None
            for line in device.stdout:  # the reply, printed as the companion speaks it
                if "companion> " in line:
                    replied.set()
                    return

        threading.Thread(target=read_reply, daemon=True).start()
        assert replied.wait(60) and device.poll() is None
    finally:
        web.kill()
        device.send_signal(signal.SIGTERM)
        assert device.wait(timeout=30) == 0


def test_eval_asr_measures_the_dev_recogniser_on_spoken_sentences(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    """The harness with the real faster-whisper and the dev model, on sentences espeak-ng speaks; one
    transcript says something else, so its errors show the harness counts what it should."""
    from speech import espeak_wav

    folder = tmp_path / "recordings"
    folder.mkdir()
    said = {
        "group": "What time does the reading group meet on Thursday?",
        "coffee": "I would like a cup of coffee and a quiet morning.",
        "daughter": "Please call my daughter this evening.",
    }
    for name, text in said.items():
        espeak_wav(text, folder / f"{name}.wav")
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    espeak_wav("The weather is lovely today.", folder / "wrong.wav")
    (folder / "wrong.txt").write_text("Good night and sleep well.", encoding="utf-8")

    result = companion(["eval-asr", str(folder), "--json", str(tmp_path / "asr.json")], dev_env)
    assert result.returncode == 0, result.stderr
    assert "Speech recognition with whisper-tiny-en (dev): 4 recordings" in result.stdout
    report = json.loads((tmp_path / "asr.json").read_text())
    by_name = {row["name"]: row for row in report["files"]}
    # Heard about right, each far better than the recording whose transcript says something else.
    right = [by_name[name] for name in said]
    assert sum(row["errors"] for row in right) / sum(row["words"] for row in right) <= 0.35, right
    assert by_name["wrong"]["wer"] >= 0.8 > max(row["wer"] for row in right)

    # Another model of the manifest, by name, without switching the profile; an unknown one said plainly.
    chosen = companion(["eval-asr", str(folder), "--model", "whisper-tiny-en", "--language", "en"], dev_env)
    assert chosen.returncode == 0 and "whisper-tiny-en (en): 4 recordings" in chosen.stdout, chosen.stderr
    unknown = companion(["eval-asr", str(folder), "--model", "whisper-huge"], dev_env)
    assert unknown.returncode == 1 and "no speech model 'whisper-huge'" in unknown.stderr
    assert "faster-whisper-small" in unknown.stderr and "Traceback" not in unknown.stderr
    assert report["words"] == sum(row["words"] for row in report["files"])
    assert report["wer"] == pytest.approx(report["errors"] / report["words"])
    assert 0 < report["rtf"] < 5 and report["after_speech_p95_s"] > 0


def test_the_households_names_as_hints_raise_accuracy_on_names(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    """Relatives' names the dev recogniser gets wrong unaided ("Birthe" → "where the", "Mette" → "Matt"):
    given as hints, as the device gives them, it hears them — measured with the harness, both ways."""
    from speech import espeak_wav

    names = ("Birthe", "Søren", "Mette", "Kirsten")
    said = [
        "Remind me to call Birthe about the party.",
        "Tell Søren that I will come on Sunday.",
        "Please ask Mette to bring the newspaper.",
        "Did Kirsten say she would visit me?",
    ]
    folder = tmp_path / "names"
    folder.mkdir()
    for number, text in enumerate(said):
        espeak_wav(text, folder / f"s{number}.wav")
        (folder / f"s{number}.txt").write_text(text, encoding="utf-8")
    config = Path(dev_env["COMPANION_CONFIG"]).read_text()
    household = tmp_path / "household.toml"
    household.write_text(
        config + '[mind]\nrelatives = ["Birthe:datter", "Søren:søn", "Mette:nabo", "Kirsten:ven"]\n'
    )
    env = {**dev_env, "COMPANION_CONFIG": str(household)}
    reports = {}
    for way, extra in (("hints", []), ("none", ["--no-hints"])):
        result = companion(["eval-asr", str(folder), "--json", str(tmp_path / f"{way}.json"), *extra], env)
        assert result.returncode == 0, result.stderr
        reports[way] = json.loads((tmp_path / f"{way}.json").read_text())
    assert (
        reports["hints"]["hints"].startswith("Birthe, Søren, Mette, Kirsten")
        and reports["none"]["hints"] == ""
    )

    def names_heard(report: dict[str, Any]) -> int:
        return sum(name in row["heard"] for row in report["files"] for name in names)

    assert names_heard(reports["hints"]) > names_heard(reports["none"])


def test_the_recogniser_says_when_it_is_unsure(dev_env: dict[str, str], tmp_path: Path) -> None:
    """Danish spoken to the English dev recogniser comes out as confident-looking English words, but with
    low scores: heard unsurely, so the companion would ask. Clear English is heard surely."""
    from speech import espeak_wav

    folder = tmp_path / "mixed"
    folder.mkdir()
    espeak_wav("Hvornår mødes læsegruppen på biblioteket?", folder / "danish.wav", voice="da")
    (folder / "danish.txt").write_text("Hvornår mødes læsegruppen på biblioteket?", encoding="utf-8")
    espeak_wav("What time does the reading group meet on Thursday?", folder / "english.wav")
    (folder / "english.txt").write_text(
        "What time does the reading group meet on Thursday?", encoding="utf-8"
    )
    result = companion(["eval-asr", str(folder), "--json", str(tmp_path / "mixed.json")], dev_env)
    assert result.returncode == 0, result.stderr
    sure = {row["name"]: row["sure"] for row in json.loads((tmp_path / "mixed.json").read_text())["files"]}
    assert sure == {"danish": False, "english": True}
    assert "(?: unsure, it would ask)" in result.stdout


def test_danish_through_the_multilingual_base_model_joined_from_two_packages(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    """The Whisper base model the compare-models extra installs (two packages, joined into the data
    directory) hears Danish that espeak-ng speaks: badly, as the published figures say, but each sentence
    far better than a transcript of something else; `--window 15` measures the shorter window to compare."""
    installed = companion(["models", "install", "faster-whisper-base", "--no-progress"], dev_env)
    assert installed.returncode == 0, installed.stderr
    assert "joining model.bin from 2 pieces" in installed.stdout

    folder = tmp_path / "danish"
    folder.mkdir()
    said = {
        "besoeg": "Har Kirsten sagt, at hun kommer på besøg?",
        "ensom": "Jeg føler mig lidt ensom i dag.",
    }
    for name, text in said.items():
        espeak_wav(text, folder / f"{name}.wav", voice="da")
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    espeak_wav("Jeg vil gerne have en kop kaffe.", folder / "forkert.wav", voice="da")
    (folder / "forkert.txt").write_text("Godnat og sov godt.", encoding="utf-8")

    base_in_danish = ["eval-asr", str(folder), "--model", "faster-whisper-base", "--language", "da"]
    result = companion([*base_in_danish, "--json", str(tmp_path / "da.json")], dev_env)
    assert result.returncode == 0, result.stderr
    assert "faster-whisper-base (da): 3 recordings" in result.stdout
    by_name = {row["name"]: row for row in json.loads((tmp_path / "da.json").read_text())["files"]}
    right = [by_name[name] for name in said]
    assert sum(row["errors"] for row in right) / sum(row["words"] for row in right) <= 0.7, right
    assert by_name["forkert"]["wer"] >= 0.8 > max(row["wer"] for row in right)

    shorter = companion([*base_in_danish, "--window", "15"], dev_env)
    assert shorter.returncode == 0, shorter.stderr
    assert "faster-whisper-base (da), window 15 s: 3 recordings" in shorter.stdout
    refused = companion(["eval-asr", str(folder), "--window", "45"], dev_env)
    assert refused.returncode == 1 and "between 5 and 30 seconds" in refused.stderr
