"""The speech loop's performance on the dev models, measured the way a person experiences it.

    .venv/bin/python -m benchmarks.speech_loop            # writes benchmarks/RESULTS.md and results.json

A real-time microphone (a WAV file delivered at 32 ms per 32 ms block) and a real-time speaker (a sink
that plays at the voice's rate behind a 200 ms buffer) stand in for the sound card; everything between
them is the product: the device loop, endpointer, faster-whisper, llama.cpp, the chunker, piper.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import threading
import time
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from benchmarks.instruments import PacedSink, PacedWavSource, StageClock, instrument, resident_mb
from companion.device import DeviceLoop
from companion.engines import Engines, build_engines
from companion.events import Clause, EndReason, Event, Transcript, Utterance
from companion.llm import base_prompt
from companion.observers import ObserverHub
from companion.pipeline import TurnPlayer
from companion.process import limit_malloc_arenas
from companion.settings import Settings, load_settings
from hardware.factory import Hardware
from hardware.light import ConsoleLight
from hardware.simulated import SimulatedButton
from hardware.wav import read_as_captured, write_wav
from models import load_manifest

HERE = Path(__file__).parent
SENTENCE = "Hello. The weather is grey and cold today, and the bus was late again this morning."


class _NullSink:
    """Discards audio: the memory run must not keep 200 replies around."""

    def start(self) -> None:
        pass

    def begin(self, rate: int) -> None:
        pass

    def write(self, audio: bytes) -> None:
        pass

    def end(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_speech(engines: Engines, folder: Path) -> Path:
    """The test utterance, spoken by the dev piper voice (real speech, made here, no download)."""
    audio = b"".join(engines.synthesizer.synthesize(SENTENCE))
    return write_wav(folder / "utterance.wav", audio, engines.synthesizer.rate)


def spoken_turn(settings: Settings, engines: Engines, clock: StageClock, wav: Path) -> dict[str, float]:
    """One hold-to-talk turn through the device loop; times in ms after the button's release."""
    button = SimulatedButton()
    released: list[float] = []

    def release() -> None:
        released.append(time.perf_counter())
        button.release()

    sink = PacedSink()
    source = PacedWavSource(wav, on_start=button.press, on_end=release)
    hardware = Hardware(button, ConsoleLight(io.StringIO()), source, sink, None, True, "benchmark")
    clock.reset()
    hardware.start()
    DeviceLoop(settings, hardware, engines, ObserverHub()).run()
    hardware.close()
    end = released[0]
    first_audio = sink.writes[1][0] - end
    stt = clock.stt_s
    llm = clock.tts_calls[0][0] - clock.llm_called_at
    tts = clock.tts_calls[0][1] - clock.tts_calls[0][0]
    return {
        "earcon_ms": (sink.writes[0][0] - end) * 1000,
        "first_audio_ms": first_audio * 1000,
        "stt_ms": stt * 1000,
        "llm_first_clause_ms": llm * 1000,
        "tts_first_chunk_ms": tts * 1000,
        "overhead_ms": (first_audio - stt - llm - tts) * 1000,
    }


def force_reply_length(engines: Engines, tokens: int) -> None:
    """Make the LLM talk for exactly `tokens` tokens (no end-of-text, no newline), greedy.

    Written for a base model's transcript prompt (the dev profile); a chat model needs its template here.
    """
    from llama_cpp import LogitsProcessorList

    chat = engines.chat
    llm: Any = chat._llm
    banned = [llm.token_eos(), *llm.tokenize(b"\n", add_bos=False)]

    def no_end(_ids: Any, scores: Any) -> Any:
        scores[banned] = -np.inf
        return scores

    def stream(user_text: str, note: str = "") -> Any:
        prompt = base_prompt(chat.persona, chat.history, user_text, note)
        for part in llm.create_completion(
            prompt=prompt,
            max_tokens=tokens,
            temperature=0.0,
            stream=True,
            logits_processor=LogitsProcessorList([no_end]),
        ):
            if part["choices"][0]["text"]:
                yield part["choices"][0]["text"]

    setattr(chat, "_stream", stream)  # noqa: B010


def typed_turn(engines: Engines, text: str) -> tuple[float, int]:
    """First audio (ms after the turn starts) and the reply's length in words."""
    sink = PacedSink(ahead_s=1000.0)  # no back-pressure: the reply's full length is generated
    words: list[str] = []

    def count_words(event: Event) -> None:
        if isinstance(event, Clause):
            words.extend(event.text.split())

    hub = ObserverHub([count_words])
    player = TurnPlayer(engines.pipeline(), sink, hub, use_earcon=True)
    engines.mind.end_conversation()  # each turn a first one: no suggestion due from earlier turns
    began = time.perf_counter()
    player.start_turn(Transcript(text, engines.language))
    player.wait()
    return (sink.writes[1][0] - began) * 1000, len(words)


def streaming_proof(engines: Engines, rounds: int) -> dict[str, float]:
    short: list[float] = []
    long: list[float] = []
    words = {"short": 0, "long": 0}
    for _ in range(rounds):
        for name, tokens, into in (("short", 12, short), ("long", 120, long)):
            force_reply_length(engines, tokens)
            # Small talk the guard lets through at both lengths: "Tell me about your day." drew a forced
            # ramble ("I'm a doctor…") that the guard replaced with its fixed line, hiding the long reply.
            latency, count = typed_turn(engines, "What did you have for breakfast?")
            into.append(latency)
            words[name] = count
    delattr(engines.chat, "_stream")
    return {
        "short_words": words["short"],
        "long_words": words["long"],
        "short_first_audio_ms": median(short),
        "long_first_audio_ms": median(long),
        "ratio": median(long) / median(short),
    }


def prefix_reuse(engines: Engines, rounds: int) -> dict[str, float]:
    chat = engines.chat
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(rounds):
        chat.forget()
        chat._llm.reset()  # forget the KV cache too: the next prompt is evaluated from scratch
        for into, text in ((cold, "Good morning. How are you?"), (warm, "I slept well, thank you.")):
            began = time.perf_counter()
            stream = chat.reply(text)
            next(stream, None)
            into.append((time.perf_counter() - began) * 1000)
            for _piece in stream:
                pass
    return {"cold_ttft_ms": median(cold), "warm_ttft_ms": median(warm), "ratio": median(warm) / median(cold)}


def interrupt_latency(settings: Settings, engines: Engines, wav: Path, rounds: int) -> dict[str, float]:
    """Press the button 0.5 s into a long reply; how soon is the speaker silent?"""
    delays: list[float] = []
    leaks = 0
    for _ in range(rounds):
        force_reply_length(engines, 80)
        button = SimulatedButton()
        sink = PacedSink()
        source = PacedWavSource(wav, trailing_silence_ms=4000, on_start=button.press, on_end=button.release)
        pressed: list[float] = []

        def press_when_speaking(
            sink: PacedSink = sink, button: SimulatedButton = button, pressed: list[float] = pressed
        ) -> None:
            deadline = time.perf_counter() + 30
            while len(sink.writes) < 2 or sink.audio_started(time.perf_counter()) < 0.5:
                if time.perf_counter() > deadline:
                    return
                time.sleep(0.005)
            pressed.append(time.perf_counter())
            button.press()
            time.sleep(0.1)
            button.release()

        hardware = Hardware(button, ConsoleLight(io.StringIO()), source, sink, None, True, "benchmark")
        hardware.start()
        presser = threading.Thread(target=press_when_speaking)
        presser.start()
        DeviceLoop(settings, hardware, engines, ObserverHub()).run()
        presser.join()
        hardware.close()
        if pressed and sink.stops:
            delays.append((sink.stops[0] - pressed[0]) * 1000)
            leaks += sum(1 for at, _size in sink.writes if at > sink.stops[-1])
    delattr(engines.chat, "_stream")
    return {
        "p50_ms": median(delays),
        "max_ms": max(delays),
        "writes_after_stop": leaks,
        "rounds": len(delays),
    }


def memory_growth(engines: Engines, wav: Path, turns: int, model_bytes: int) -> dict[str, Any]:
    """Resident memory every 10 full spoken turns.

    malloc's heap breathes by ±50 MB from turn to turn as replies differ in length, so growth is judged
    on averages: the last quarter of the run against its second quarter (after the first warm-up turns).
    """
    audio = read_as_captured(wav)
    player = TurnPlayer(engines.pipeline(), _NullSink(), ObserverHub(), use_earcon=True)
    samples: dict[int, float] = {}
    for turn in range(1, turns + 1):
        player.start_turn(Utterance(audio, 16000, EndReason.RELEASE))
        player.wait()
        if turn % 10 == 0 or turn == 1:
            samples[turn] = resident_mb()

    def mean_between(low: float, high: float) -> float:
        values = [rss for turn, rss in samples.items() if low * turns < turn <= high * turns]
        return sum(values) / len(values)

    last = mean_between(0.75, 1.0)
    return {
        "turns": turns,
        "rss_mb": last,
        "peak_mb": max(samples.values()),
        "model_files_mb": model_bytes / 2**20,
        "beyond_models_mb": last - model_bytes / 2**20,
        "growth_mb": last - mean_between(0.25, 0.5),
        "rss_by_turn": samples,
    }


def model_file_bytes(settings: Settings) -> int:
    manifest = load_manifest()
    profile = manifest.profile(settings.general.model_profile)
    return sum(sum(f.size for f in manifest.models[name].files) for name in profile.model_names)


def run(args: argparse.Namespace) -> dict[str, Any]:
    limit_malloc_arenas()  # as `companion run` does
    settings = load_settings(args.config)
    settings = replace(settings, llm=replace(settings.llm, seed=11))
    engines = build_engines(settings, hearing=True)
    rss_before_models = resident_mb()
    began = time.perf_counter()
    engines.start()
    load_s = time.perf_counter() - began
    rss_after_models = resident_mb()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wav = make_speech(engines, work)
    clock = StageClock()
    instrument(engines, clock)
    print(f"models loaded in {load_s:.1f} s; measuring {args.turns} spoken turns…", flush=True)
    turns = [spoken_turn(settings, engines, clock, wav) for _ in range(args.turns)]
    # Memory before the forced-length runs below: their logits processor makes llama-cpp-python keep a
    # scores row per token, which the product never does.
    print(f"memory over {args.memory_turns} turns…", flush=True)
    memory = memory_growth(engines, wav, args.memory_turns, model_file_bytes(settings))
    memory.update(rss_before_models_mb=rss_before_models, rss_after_models_mb=rss_after_models)
    print("streaming proof…", flush=True)
    streaming = streaming_proof(engines, args.rounds)
    print("prefix reuse…", flush=True)
    prefix = prefix_reuse(engines, args.rounds)
    print("interrupts…", flush=True)
    interrupts = interrupt_latency(settings, engines, wav, args.rounds)
    engines.close()
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {_cpu_count()} cores, Python {platform.python_version()}",
        "load_s": load_s,
        "turns": turns,
        "streaming": streaming,
        "prefix": prefix,
        "interrupt": interrupts,
        "memory": memory,
    }


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, help="settings file (default: the usual search order)")
    parser.add_argument("--turns", type=int, default=10, help="spoken turns for the latency table")
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of the other measurements")
    parser.add_argument("--memory-turns", type=int, default=200)
    parser.add_argument("--work", default="/tmp/companion-benchmark")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    results = run(args)
    (args.out.parent / "results.json").write_text(json.dumps(results, indent=2))
    from benchmarks.report import write_report

    write_report(results, args.out)
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
