"""Benchmark of speech recognition: word error rate and latency of every recogniser installed here.

    .venv/bin/python -m benchmarks.asr        # writes benchmarks/ASR.md and asr.json (~1 min)

The speech is made on this machine with espeak-ng (Debian): sentences an older person might say to the
companion, some naming relatives and groups. Each installed speech model of the manifest is measured on the
set in its language, through `companion eval-asr`'s own code (companion/asr_eval.py): with the household's
hints (names) and without, and with one CPU thread and with all. espeak-ng's voice is clear and even, so
these error rates are a floor: real older voices in a real room do worse — hence `eval-asr` on real
recordings before a device goes out (README, "Checking speech recognition").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from companion.asr_eval import Report, evaluate, find_samples
from companion.mind.build import load_catalogue
from companion.mind.catalogue import Group
from companion.settings import Settings, data_dir
from companion.stages.hints import hearing_hints
from companion.stages.stt import SttOptions, WhisperTranscriber
from models import load_manifest
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


def _recordings(folder: Path, language: str) -> Path:
    import subprocess

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


def _row(report: Report, language: str, hints: str, threads: int) -> dict[str, Any]:
    return {
        "model": report.model,
        "language": language,
        "hints": hints,
        "threads": threads or os.cpu_count(),
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


def run() -> dict[str, Any]:
    settings = Settings()
    manifest = load_manifest()
    rows = []
    with tempfile.TemporaryDirectory(prefix="companion-asr-") as scratch:
        for name, entry in manifest.models.items():
            if entry.kind != "stt":
                continue
            try:
                folder = model_path(entry, data_dir(settings))
            except Exception:
                folder = None
            if folder is None or not (folder / "model.bin").is_file():
                print(f"{name}: not installed here, skipped", file=sys.stderr)
                continue
            languages = ["en", "da"] if entry.language == "multi" else [entry.language]
            for language in languages:
                samples = find_samples(_recordings(Path(scratch), language))
                ways = {
                    "none": "",
                    "names": hearing_hints(RELATIVES),
                    "names, groups, places, phrases": _fuller(
                        load_catalogue(DIALOGS, language).groups, language
                    ),
                }
                for threads in (1, 0):
                    transcriber = WhisperTranscriber(SttOptions(folder, language, threads=threads))
                    transcriber.start()
                    for way, hints in ways.items():
                        if way == FULLER_WAY and threads == 1:
                            continue
                        transcriber.hotwords = hints
                        report = evaluate(transcriber, samples, name)
                        rows.append(_row(report, language, way, threads))
                        print(f"{name} {language} threads={threads} hints={way}: WER {report.wer:.1%}")
                    transcriber.close()
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rows": rows,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Speech recognition benchmark",
        "",
        f"Measured {results['date']} on {results['machine']} with `.venv/bin/python -m benchmarks.asr`",
        "(raw figures in `asr.json`). Speech made by espeak-ng: clear and even, so these error rates are a",
        "floor — real older voices in a real room do worse. Run `companion eval-asr` on real recordings",
        '(README, "Checking speech recognition").',
        "",
        "| model | set | threads | hints | WER | names heard | RTF | after speech p50 / p95 | unsure |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['model']} | {row['language']} ({row['recordings']}) | {row['threads']} "
            f"| {row['hints']} | {row['wer']:.1%} "
            f"| {row['names_heard']} of {row['names_said']} "
            f"| {row['rtf']:.2f} | {row['after_speech_p50_s']:.2f} / {row['after_speech_p95_s']:.2f} s "
            f"| {row['unsure']} |"
        )
    lines += [
        "",
        "*Hints* (faster-whisper hotwords): `names`, the relatives' names, is what the device gives. The",
        "fuller list (names, then the catalogue's groups and places and phrases the policy listens for, 400",
        "characters) was tried first; on a set this small its word error rate moves by a few points either",
        "way between runs (CTranslate2's threads do not add up in the same order each time), so only the",
        "names — a steady gain — are given.",
        "*After speech*: the whole recognition, as the device starts it when the button is let go.",
        "*Unsure*: recordings whose mean token log-probability fell below `[stt] unsure_below`, which the",
        "companion would ask about.",
        "",
        "Not measured here yet: the pi-da profile's faster-whisper small (downloaded on the Pi only), a",
        "multilingual Whisper on Danish, and a Danish-trained CTC model through a second backend.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE / "ASR.md")
    args = parser.parse_args(argv)
    results = run()
    (args.out.parent / "asr.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    args.out.write_text(report(results), encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
