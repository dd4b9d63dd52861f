"""Writes benchmarks/ASR.md and the speech recognition section of RESULTS.md from benchmarks.asr's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SUMMARY_START = "<!-- speech recognition: benchmarks/asr.py -->"
SUMMARY_END = "<!-- end of speech recognition -->"


def _latency(row: dict[str, Any]) -> str:
    return f"{row['after_speech_p50_s']:.2f} / {row['after_speech_p95_s']:.2f} s"


def _window(row: dict[str, Any]) -> str:
    if row["window"] is None:
        return "–"
    return f"{row['window']:.0f} s" + (" (default)" if row["default"] else "")


def _each_recogniser(results: dict[str, Any]) -> list[str]:
    lines = [
        "Espeak-ng sentences, the relatives' names as hints, one thread per core. *After speech*: the whole",
        "recognition, as the device starts it when the button is let go, p50 / p95.",
        "",
        "| backend | model | set | encoder window | WER | after speech | RTF |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["recognisers"]:
        lines.append(
            f"| {row['backend']} | {row['model']} | {row['language']} ({row['recordings']}) "
            f"| {_window(row)} | {row['wer']:.1%} | {_latency(row)} | {row['rtf']:.2f} |"
        )
    return [
        *lines,
        "",
        "The sherpa-onnx row runs the backend on the tests' generated NeMo CTC model, which knows one",
        "word: its error rate says nothing about Danish CTC models, its time is the backend's floor. No",
        "Danish-trained model is installable here (Hugging Face is out of reach); on the Pi,",
        "`companion eval-asr --model NAME` measures the pi-da profile's and any Danish CTC model added to",
        "the manifest.",
    ]


def summary(results: dict[str, Any]) -> list[str]:
    """RESULTS.md's section: word error rate and latency of each backend and model here."""
    return [
        SUMMARY_START,
        "## Speech recognition: each backend and model here",
        "",
        f"Measured {results['date']} with `.venv/bin/python -m benchmarks.asr` (hints, threads and where the",
        "time goes: `ASR.md`).",
        "",
        *_each_recogniser(results),
        SUMMARY_END,
    ]


def put_summary(results_md: Path, section: list[str]) -> None:
    """Replace RESULTS.md's speech recognition section (or add it); the speech loop benchmark writes the
    rest, and keeps this section (benchmarks/report.py)."""
    text = results_md.read_text(encoding="utf-8") if results_md.is_file() else ""
    block = "\n".join(section)
    if SUMMARY_START in text and SUMMARY_END in text:
        before, rest = text.split(SUMMARY_START, 1)
        text = before + block + rest.split(SUMMARY_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results_md.write_text(text, encoding="utf-8")


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Speech recognition benchmark",
        "",
        f"Measured {results['date']} on {results['machine']} with `.venv/bin/python -m benchmarks.asr`",
        "(raw figures in `asr.json`). Speech made by espeak-ng: clear and even, so these error rates are a",
        "floor — real older voices in a real room do worse. Run `companion eval-asr` on real recordings",
        '(README, "Checking speech recognition").',
        "",
        "## Each recogniser",
        "",
        *_each_recogniser(results),
        "",
        "## Hints (the encoder window the language gets by default)",
        "",
        "| model | set | hints | WER | names heard | after speech | unsure |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["hints"]:
        lines.append(
            f"| {row['model']} | {row['language']} ({row['recordings']}) | {row['hints']} | {row['wer']:.1%} "
            f"| {row['names_heard']} of {row['names_said']} | {_latency(row)} | {row['unsure']} |"
        )
    lines += [
        "",
        "*Hints* (faster-whisper hotwords): `names`, the relatives' names, is what the device gives. The",
        "fuller list (names, then the catalogue's groups and places and phrases the policy listens for, 400",
        "characters) moves the error rate a few points either way between runs and lengthens every prompt;",
        "group names are matched tolerantly by the policy instead (mind/lexicon.py). On espeak-ng Danish,",
        "where base mishears most words anyway, the names moved the error rate by several points, in one",
        "run up and in the next down (and once set the decoder looping on a name: cut and asked about",
        "now); whether they pay in Danish is for `eval-asr` against `eval-asr --no-hints` on real voices",
        "with the pi-da model to say.",
        "*Unsure*: recordings whose mean token log-probability fell below `[stt] unsure_below`, or whose",
        "decoder looped: the companion would ask.",
        "",
        "## Threads (no hints)",
        "",
        "| model | set | threads | WER | after speech | RTF |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["threads"]:
        lines.append(
            f"| {row['model']} | {row['language']} | {row['threads']} | {row['wer']:.1%} | {_latency(row)} "
            f"| {row['rtf']:.2f} |"
        )
    lines += [
        "",
        f"Measured on {results['machine']}: more threads than cores gain nothing. `[stt] threads = 0`",
        "gives one per core up to 4 (CTranslate2's own default is 4 on any machine); a Pi 5 has 4 and",
        "nothing else runs while it listens, so all 4 — not measurable here.",
        "",
        "## Where the time after speech goes (the set's longest sentence, median of 5, ms)",
        "",
        "| model | set | speech | window | trim silence | log-mel features | encoder | decoder | whole |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["stages"]:
        lines.append(
            f"| {row['model']} | {row['language']} | {row['speech_s']} s | {row['window']:.0f} s "
            f"| {row['trim']} | {row['features']} | {row['encoder']} | {row['decoder']} | {row['whole']} |"
        )
    lines += [
        "",
        "*Transcribing while the button is held*: only trimming silence and the log-mel features could run",
        "before the release — a few per cent of the wait, not worth a second thread racing the microphone.",
        "Whisper's encoder and decoder need the whole turn. So the time is won in the encoder instead:",
        "its attention grows with the square of its input, and the shorter window halves the wait (used",
        "for speech up to two thirds of it). In English it heard within a few words of the whole window",
        "on these sets (either way between runs), so English gets 15 s by default; on espeak-ng Danish",
        "the whole window did better on every set and run tried, so Danish keeps 30 s until `eval-asr",
        "--window 15` on real Danish voices says the shorter one hears as well (README). Small synthetic",
        "sets: read the table, not these words, after a new run.",
        "",
    ]
    return "\n".join(lines)
