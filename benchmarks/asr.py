"""Benchmark of speech recognition: word error rate and latency of every recogniser and model here.

    .venv/bin/python -m benchmarks.asr        # writes benchmarks/ASR.md, asr.json and RESULTS.md's section

The speech is made on this machine with espeak-ng (Debian): sentences an older person might say to the
companion, some naming relatives and groups. Each speech model of the manifest that is here (the dev
model; Whisper base, multilingual, which the run installs from PyPI if needed; a Danish model on a Pi) is
measured on the set in each language it speaks, through `companion eval-asr`'s own code
(companion/asr_eval.py), with the shorter encoder window and the whole one; the second backend
(sherpa-onnx) on the generated NeMo CTC model the tests use. Then hints, threads, and where the time after
speech goes. espeak-ng's voice is clear and even, so these error rates are a floor: real older voices in a
real room do worse — hence `eval-asr` on real recordings before a device goes out (README, "Checking
speech recognition").
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.asr_report import put_summary, report, summary
from companion.asr_eval import Recogniser, Report, evaluate, find_samples
from companion.mind.build import load_catalogue
from companion.mind.catalogue import Group
from companion.settings import Settings, data_dir
from companion.stages.hints import hearing_hints
from companion.stages.stt import SttOptions, WhisperTranscriber, encoder_window, speech_in
from hardware.wav import read_as_captured
from models import install_model, load_manifest, verify_model
from models.locate import model_path

HERE = Path(__file__).resolve().parent
DIALOGS = HERE.parent / "dialogs"
RELATIVES = ("Birthe", "Søren", "Mette", "Kirsten")
SENTENCES = {
    "en": [
        "Remind me to call Birthe about the party.",
        "Tell Søren that I will come on Sunday.",
        "Please ask Mette to bring the newspaper.",
        "Did Kirsten say she would visit me?",
        "What time does the reading group meet on Thursday?",
        "I would like a cup of coffee and a quiet morning.",
        "When does the walking group in Valby Park meet?",
        "I feel a bit lonely today.",
        "What am I doing today?",
        "Please say that again, a little slower.",
        "Remind me to take my pills at eight tomorrow.",
        "Goodbye, and thank you for the chat.",
    ],
    "da": [
        "Mind mig om at ringe til Birthe i morgen.",
        "Hvornår mødes læsegruppen på biblioteket?",
        "Jeg vil gerne have en kop kaffe.",
        "Hvad skal jeg i dag?",
        "Jeg føler mig lidt ensom i dag.",
        "Sig det igen, lidt langsommere.",
        "Farvel, og tak for snakken.",
        "Har Kirsten sagt, at hun kommer på besøg?",
    ],
}
ESPEAK_VOICE = {"en": "en-us", "da": "da"}


ROOT = HERE.parent


def _recordings(folder: Path, language: str) -> Path:
    target = folder / language
    target.mkdir(parents=True, exist_ok=True)
    for number, text in enumerate(SENTENCES[language]):
        raw, wav = target / f"{number:02d}.raw.wav", target / f"{number:02d}.wav"
        subprocess.run(
            ["espeak-ng", "-v", ESPEAK_VOICE[language], "-s", "140", "-w", str(raw), text], check=True
        )
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
        raw.unlink()
        (target / f"{number:02d}.txt").write_text(text, encoding="utf-8")
    return target


FULLER = {
    "en": ["remind me", "what am I doing today", "tomorrow", "say that again", "goodbye"],
    "da": ["mind mig om", "hvad skal jeg i dag", "i morgen", "gentag", "farvel"],
}
"""Phrases the policy listens for: tried as hints too, and left out of the device's (see the table)."""
FULLER_WAY = "names, groups, places, phrases"


def _fuller(groups: tuple[Group, ...], language: str) -> str:
    """The hints first tried: names, the catalogue's groups and places and phrases, up to 400 characters."""
    entries = [
        *RELATIVES,
        *(g.name for g in groups),
        *(g.place.split(",")[0] for g in groups),
        *FULLER[language],
    ]
    hints = ""
    for entry in dict.fromkeys(entries):
        if len(f"{hints}, {entry}") > 400:
            break
        hints = f"{hints}, {entry}" if hints else entry
    return hints


def _row(report: Report, **case: Any) -> dict[str, Any]:
    return {
        "model": report.model,
        **case,
        "recordings": len(report.files),
        "wer": round(report.wer, 3),
        "rtf": round(report.rtf, 3),
        "after_speech_p50_s": round(report.after_speech_p50_s, 3),
        "after_speech_p95_s": round(report.after_speech_p95_s, 3),
        "unsure": sum(not f.sure for f in report.files),
        # A name counts where it was said and heard; a name heard where none was said is a word error.
        "names_heard": sum(
            name in f.heard and name in f.reference for f in report.files for name in RELATIVES
        ),
        "names_said": sum(name in f.reference for f in report.files for name in RELATIVES),
    }


def _whisper_models(settings: Settings) -> dict[str, Path]:
    """Every faster-whisper model of the manifest that is here; models in no profile installed first."""
    manifest = load_manifest()
    in_profiles = {name for profile in manifest.profiles.values() for name in profile.model_names}
    found = {}
    for name, entry in manifest.models.items():
        if entry.kind != "stt" or entry.stt_backend != "faster-whisper":
            continue
        if name not in in_profiles and entry.source == "pypi":
            install_model(entry, data_dir(settings), False, name, lambda line: print(line, file=sys.stderr))
        if verify_model(entry, data_dir(settings), trust_stamps=True).ok:
            found[name] = model_path(entry, data_dir(settings))
        else:
            print(f"{name}: not installed here, skipped", file=sys.stderr)
    return found


def _languages(name: str) -> list[str]:
    return ["en"] if name.endswith("-en") else ["en", "da"]


def _measure(
    recogniser: Recogniser, samples: list[Any], name: str, hint_text: str = "", **case: Any
) -> dict[str, Any]:
    evaluate(recogniser, samples[:1], name)  # the first call pays for loading; the device loads at start
    report = evaluate(recogniser, samples, name, hints=hint_text)
    row = _row(report, **case)
    print(f"{name} {case}: WER {report.wer:.1%}, p50 {report.after_speech_p50_s:.2f} s", file=sys.stderr)
    return row


def _whisper(folder: Path, language: str, window: float, threads: int = 0) -> WhisperTranscriber:
    transcriber = WhisperTranscriber(SttOptions(folder, language, threads=threads, encoder_window_s=window))
    transcriber.start()
    return transcriber


def _each_recogniser(
    models: dict[str, Path], sets: dict[str, list[Any]], scratch: Path
) -> list[dict[str, Any]]:
    rows = []
    names = hearing_hints(RELATIVES)
    for name, folder in models.items():
        for language in _languages(name):
            for window in (15.0, 30.0):
                transcriber = _whisper(folder, language, window)
                transcriber.hotwords = names
                rows.append(
                    _measure(
                        transcriber,
                        sets[language],
                        name,
                        names,
                        backend="faster-whisper",
                        language=language,
                        window=window,
                        default=window == encoder_window(0, language),
                    )
                )
    rows.append(_sherpa(sets["da"], scratch))
    return rows


def _sherpa(samples: list[Any], scratch: Path) -> dict[str, Any]:
    """The second backend on the only NeMo CTC model here: the tests' generated one, which knows one word."""
    from companion.stages.stt_sherpa import SherpaCtcTranscriber

    sys.path.insert(0, str(ROOT / "tests"))
    folder = importlib.import_module("tiny_models").make_tiny_nemo_ctc(scratch / "nemo-ctc")
    transcriber = SherpaCtcTranscriber(SttOptions(folder, "da"))
    transcriber.start()
    return _measure(
        transcriber,
        samples,
        "generated NeMo CTC (one word)",
        backend="sherpa-onnx-nemo-ctc",
        language="da",
        window=None,
        default=True,
    )


def _hints(models: dict[str, Path], sets: dict[str, list[Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, folder in models.items():
        language = _languages(name)[-1]
        transcriber = _whisper(folder, language, encoder_window(0, language))
        ways = {
            "none": "",
            "names": hearing_hints(RELATIVES),
            FULLER_WAY: _fuller(load_catalogue(DIALOGS, language).groups, language),
        }
        for way, hints in ways.items():
            transcriber.hotwords = hints
            rows.append(_measure(transcriber, sets[language], name, hints, language=language, hints=way))
    return rows


def _threads(models: dict[str, Path], sets: dict[str, list[Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, folder in models.items():
        language = _languages(name)[-1]
        for threads in (1, 2, 4):
            transcriber = _whisper(folder, language, encoder_window(0, language), threads)
            rows.append(_measure(transcriber, sets[language], name, language=language, threads=threads))
    return rows


def _stages(models: dict[str, Path], sets: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Where the time after speech goes, on the set's longest sentence: what could run while the button is
    held (silence trimming, the log-mel features) against what needs the whole turn (encoder, decoder)."""
    from faster_whisper.feature_extractor import FeatureExtractor

    rows = []
    for name, folder in models.items():
        language = _languages(name)[-1]
        audio = max((read_as_captured(sample.wav) for sample in sets[language]), key=len)
        for window in (15.0, 30.0):
            transcriber = _whisper(folder, language, window)
            model = transcriber._model
            features = FeatureExtractor(model.model.n_mels)
            frames = int(window * 100)
            timings: dict[str, list[float]] = {"trim": [], "features": [], "encoder": [], "whole": []}
            for _ in range(6):
                started = time.perf_counter()
                speech = speech_in(audio, 0.5)
                timings["trim"].append(time.perf_counter() - started)
                started = time.perf_counter()
                mel = features(speech)
                timings["features"].append(time.perf_counter() - started)
                padded = np.zeros((mel.shape[0], frames), dtype=np.float32)
                padded[:, : min(frames, mel.shape[1])] = mel[:, :frames]
                started = time.perf_counter()
                model.encode(padded)
                timings["encoder"].append(time.perf_counter() - started)
                started = time.perf_counter()
                transcriber.transcribe(audio)
                timings["whole"].append(time.perf_counter() - started)
            ms = {key: round(1000 * float(np.median(values[1:])), 1) for key, values in timings.items()}
            ms["decoder"] = round(ms["whole"] - ms["trim"] - ms["features"] - ms["encoder"], 1)
            rows.append(
                {
                    "model": name,
                    "language": language,
                    "window": window,
                    "speech_s": round(len(audio) / 32000, 1),
                    **ms,
                }
            )
    return rows


def run() -> dict[str, Any]:
    settings = Settings()
    models = _whisper_models(settings)
    with tempfile.TemporaryDirectory(prefix="companion-asr-") as scratch:
        sets = {language: find_samples(_recordings(Path(scratch), language)) for language in SENTENCES}
        return {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "recognisers": _each_recogniser(models, sets, Path(scratch)),
            "hints": _hints(models, sets),
            "threads": _threads(models, sets),
            "stages": _stages(models, sets),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE / "ASR.md")
    args = parser.parse_args(argv)
    results = run()
    (args.out.parent / "asr.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    args.out.write_text(report(results), encoding="utf-8")
    put_summary(args.out.parent / "RESULTS.md", summary(results))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
