"""`companion eval-asr DIR`: how well the recogniser hears the people who will use the device.

The folder holds WAV files and, beside each, a text file of the same name with what was said:

    sætninger/
        kaffe.wav     kaffe.txt      ("Jeg vil gerne have en kop kaffe.")
        anne.wav      anne.txt

Any PCM WAV will do (it is brought to 16 kHz mono, as the microphone's sound is). Per file and overall:
the word error rate (jiwer, after both texts are written alike: small letters, no punctuation), the
real-time factor (recognition time ÷ length of the recording) and the time from the end of speech until
the words are there — on the device the button's release is the end of speech and recognition starts
then, so that time is the whole recognition. A table on the screen; JSON with `--json FILE`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from companion.errors import CompanionError
from companion.events import CAPTURE_RATE, Transcript
from companion.settings import Settings

BYTES_PER_SAMPLE = 2


class Recogniser(Protocol):
    def transcribe(self, audio: bytes) -> Transcript: ...


@dataclass(frozen=True)
class Sample:
    name: str
    wav: Path
    reference: str


@dataclass(frozen=True)
class Heard:
    name: str
    reference: str
    heard: str
    words: int
    errors: int
    wer: float
    audio_s: float
    recognition_s: float
    rtf: float
    sure: bool
    """False when the recogniser's own scores were low: on the device, the companion would have asked."""


@dataclass(frozen=True)
class Report:
    model: str
    hints: str
    """The names and phrases the recogniser was nudged toward (empty: none)."""
    files: list[Heard]
    words: int
    errors: int
    wer: float
    audio_s: float
    recognition_s: float
    rtf: float
    after_speech_p50_s: float
    after_speech_p95_s: float


def find_samples(folder: Path) -> list[Sample]:
    """Every WAV file with its transcript; a folder that is not laid out so is said plainly."""
    if not folder.is_dir():
        raise CompanionError(f"There is no folder {folder}.", "Give the folder with the WAV and text files.")
    samples, missing = [], []
    for wav in sorted(folder.glob("*.wav")):
        text = wav.with_suffix(".txt")
        if not text.is_file():
            missing.append(text.name)
            continue
        reference = " ".join(text.read_text(encoding="utf-8").split())
        if not normalise(reference):
            raise CompanionError(f"{text} has no words in it.", "Write what is said in the recording.")
        samples.append(Sample(wav.stem, wav, reference))
    if missing:
        raise CompanionError(
            f"These transcripts are missing in {folder}: {', '.join(missing)}.",
            "Beside each kaffe.wav, a kaffe.txt with what is said in it.",
        )
    if not samples:
        raise CompanionError(
            f"There are no WAV files in {folder}.", "Record some sentences (see the README)."
        )
    return samples


def normalise(text: str) -> str:
    """Both texts written alike before counting: small letters, punctuation as spaces, one space."""
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text.lower())
    return " ".join(kept.split())


def evaluate(
    recogniser: Recogniser,
    samples: Sequence[Sample],
    model: str,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[str], None] = lambda _line: None,
    hints: str = "",
) -> Report:
    import jiwer

    from hardware.wav import read_as_captured

    files = []
    for number, sample in enumerate(samples, 1):
        audio = read_as_captured(sample.wav)
        started = clock()
        transcript = recogniser.transcribe(audio)
        heard = transcript.text
        seconds = clock() - started
        length = len(audio) / BYTES_PER_SAMPLE / CAPTURE_RATE
        counted = jiwer.process_words(normalise(sample.reference), normalise(heard) or "")
        errors = counted.substitutions + counted.deletions + counted.insertions
        words = counted.hits + counted.substitutions + counted.deletions
        files.append(
            Heard(
                sample.name,
                sample.reference,
                heard,
                words,
                errors,
                errors / words,
                length,
                seconds,
                seconds / length,
                transcript.sure,
            )
        )
        progress(f"{number}/{len(samples)} {sample.name}: {errors} of {words} words wrong")
    words = sum(f.words for f in files)
    errors = sum(f.errors for f in files)
    audio_s = sum(f.audio_s for f in files)
    recognition_s = sum(f.recognition_s for f in files)
    latencies = sorted(f.recognition_s for f in files)
    return Report(
        model=model,
        hints=hints,
        files=files,
        words=words,
        errors=errors,
        wer=errors / words,
        audio_s=audio_s,
        recognition_s=recognition_s,
        rtf=recognition_s / audio_s if audio_s else 0.0,
        after_speech_p50_s=_percentile(latencies, 50),
        after_speech_p95_s=_percentile(latencies, 95),
    )


def _percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def table(report: Report) -> str:
    lines = [
        f"Speech recognition with {report.model}: {len(report.files)} recordings",
        f"hints: {report.hints or '(none)'}",
        "",
        f"{'file':<24} {'words':>5} {'wrong':>5} {'WER':>6} {'audio s':>8} {'RTF':>5}  heard",
    ]
    for f in report.files:
        counts = f"{f.words:>5} {f.errors:>5} {f.wer:>6.1%} {f.audio_s:>8.1f} {f.rtf:>5.2f}"
        lines.append(
            f"{f.name[:24]:<24} {counts}  {f.heard}{'' if f.sure else '  (?: unsure, it would ask)'}"
        )
    lines += [
        "",
        f"Overall: {report.errors} of {report.words} words wrong, WER {report.wer:.1%}; "
        f"real-time factor {report.rtf:.2f}; after the end of speech p50 {report.after_speech_p50_s:.2f} s, "
        f"p95 {report.after_speech_p95_s:.2f} s.",
    ]
    return "\n".join(lines)


def as_json(report: Report) -> str:
    data: dict[str, Any] = asdict(report)
    data["schema"] = "companion-asr-eval/1"
    return json.dumps(data, ensure_ascii=False, indent=2)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "eval-asr",
        help="word error rate and speed of speech recognition on a folder of recordings",
        description="The folder holds WAV files and, beside each, a text file of the same name with what was "
        "said in it (kaffe.wav and kaffe.txt). README: 'Checking speech recognition'.",
    )
    parser.add_argument("folder", type=Path, help="WAV files, each with a .txt of what is said in it")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON here")
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="another speech model of the manifest (installed) instead of the profile's",
    )
    parser.add_argument(
        "--language", choices=("da", "en"), help="the recordings' language (default: the profile's)"
    )
    parser.add_argument(
        "--window",
        type=float,
        metavar="SECONDS",
        help="encoder window for short turns, 5 to 30 seconds (default: the setting stt.encoder_window_s)",
    )
    parser.add_argument(
        "--no-hints",
        action="store_true",
        help="without the relatives' names as hints to the recogniser (to see what they are worth)",
    )
    parser.set_defaults(func=eval_asr_command)


def eval_asr_command(args: argparse.Namespace, settings: Settings) -> int:
    from companion.engines import make_transcriber, spoken_language
    from companion.settings import data_dir
    from models import load_manifest, verify_model

    samples = find_samples(args.folder)
    manifest = load_manifest()
    profile = settings.general.model_profile
    name = args.model or manifest.profile(profile).stt
    entry = manifest.models.get(name)
    if entry is None or entry.kind != "stt":
        speech_models = ", ".join(n for n, m in manifest.models.items() if m.kind == "stt")
        raise CompanionError(
            f"There is no speech model {name!r} in the manifest.", f"One of: {speech_models}"
        )
    if args.model:
        found = verify_model(entry, data_dir(settings), trust_stamps=True, hash_files=False)
        if found.status in ("missing", "corrupt"):
            raise CompanionError(
                f"The speech model {name} is not installed here ({found.summary}).",
                f"companion models install {name}",
            )
    language = args.language or spoken_language(settings, manifest)
    if args.window is not None:
        if not 5 <= args.window <= 30:
            raise CompanionError(f"--window {args.window:g} is not between 5 and 30 seconds.")
        settings = replace(settings, stt=replace(settings.stt, encoder_window_s=args.window))
    transcriber = make_transcriber(entry, settings, language)
    model = f"{name} ({profile})" if not args.model else f"{name} ({language})"
    if args.window is not None:
        model += f", window {args.window:g} s"
    transcriber.hotwords = "" if args.no_hints or not settings.stt.name_hints else device_hints(settings)
    print(f"loading the recogniser, {model} …", file=sys.stderr)
    transcriber.start()
    try:
        report = evaluate(
            transcriber,
            samples,
            model,
            progress=lambda line: print(line, file=sys.stderr),
            hints=transcriber.hotwords,
        )
    finally:
        transcriber.close()
    print(table(report))
    if args.json:
        args.json.write_text(as_json(report) + "\n", encoding="utf-8")
    return 0


def device_hints(settings: Settings) -> str:
    """The hints the device gives its recogniser: the settings' relatives, and those paired on its web page
    when it has a database."""
    from companion.mind.build import relatives_from_settings
    from companion.settings import data_dir
    from companion.stages.hints import hearing_hints, household_hints
    from companion.store.database import DATABASE_NAME, Database

    relatives = relatives_from_settings(settings.mind.relatives)
    if (data_dir(settings) / DATABASE_NAME).is_file():
        with Database(data_dir(settings)) as database:
            return household_hints(database.engine, relatives)
    return hearing_hints(relative.name for relative in relatives)
