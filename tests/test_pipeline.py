"""The turn pipeline and the player on the tiny models: real llama.cpp, faster-whisper and piper code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.content import Phrases, load_persona, load_phrases
from companion.errors import LlmError
from companion.events import (
    AudioChunk,
    AudioStart,
    AudioStop,
    Clause,
    EndReason,
    Event,
    Interrupt,
    ReplyDelta,
    ReplyDone,
    StageError,
    Transcript,
    TurnDone,
    Utterance,
)
from companion.llm import LlamaChat, LlmOptions
from companion.observers import ObserverHub
from companion.pipeline import Pipeline, TurnPlayer
from companion.stages.stt import SttOptions, WhisperTranscriber
from companion.stages.tts import PiperSynthesizer, TtsOptions, earcon
from hardware.wav import MemorySink

from minds import make_mind

DIALOGS = Path(__file__).parent.parent / "dialogs"


def english() -> Phrases:
    return load_phrases(DIALOGS, "en")


def tiny_chat(gguf: Path) -> LlamaChat:
    options = LlmOptions(
        gguf, "base", context_tokens=4096, max_reply_tokens=7, prompt_tokens=4000, temperature=0.0, seed=1
    )
    return LlamaChat(options, load_persona(DIALOGS, "en"))


@pytest.fixture
def pipeline(tiny_gguf: Path, tiny_whisper: Path, tiny_piper_voice: Path) -> Iterator[Pipeline]:
    transcriber = WhisperTranscriber(SttOptions(tiny_whisper, "en"))
    chat = tiny_chat(tiny_gguf)
    synthesizer = PiperSynthesizer(TtsOptions(tiny_piper_voice))
    for part in (transcriber, chat, synthesizer):
        part.start()
    phrases = english()
    yield Pipeline(transcriber, make_mind("en", chat=chat), synthesizer, phrases)
    chat.close()


def test_utterance_becomes_transcript_reply_clauses_and_audio(
    pipeline: Pipeline, speech_wav_16k: bytes
) -> None:
    events = list(pipeline.turn(Utterance(speech_wav_16k, 16000, EndReason.RELEASE)))
    assert events[0] == Transcript("hello there", "en")
    deltas = "".join(e.text for e in events if isinstance(e, ReplyDelta))
    assert deltas == "Hello there. How are you today? Hello"  # 7 tokens: the cap, not a sentence end
    clauses = [e.text for e in events if isinstance(e, Clause)]
    assert clauses == ["Hello there.", "How are you today?", "Hello"]
    assert isinstance(events[-2], AudioStop)
    assert isinstance(events[-1], ReplyDone)
    assert {a.kind for a in events[-1].acts} == {"small_talk", "no_nudge"}
    # Streaming: the first clause's audio comes before the LLM has produced its last piece.
    first_audio = next(i for i, e in enumerate(events) if isinstance(e, AudioChunk))
    last_delta = max(i for i, e in enumerate(events) if isinstance(e, ReplyDelta))
    assert first_audio < last_delta
    assert sum(isinstance(e, AudioStart) for e in events) == 1


def test_silence_gets_the_nothing_heard_line_without_an_llm_call(
    tiny_whisper: Path, tiny_piper_voice: Path, tmp_path: Path
) -> None:
    # A chat whose model file does not exist: any call to it would raise ModelError.
    chat = tiny_chat(tmp_path / "absent.gguf")
    phrases = english()
    transcriber = WhisperTranscriber(SttOptions(tiny_whisper, "en"))
    pipeline = Pipeline(
        transcriber, make_mind("en", chat=chat), PiperSynthesizer(TtsOptions(tiny_piper_voice)), phrases
    )
    events = list(pipeline.turn(Utterance(b"\x00\x00" * 32000, 16000, EndReason.RELEASE)))
    assert events[0] == Transcript("", "en")
    spoken = [e.text for e in events if isinstance(e, Clause)]
    assert spoken and spoken[0] in {line.split(".")[0] + "." for line in phrases.lines["nothing_heard"]}
    assert any(isinstance(e, ReplyDone) and [a.kind for a in e.acts] == ["nothing_heard"] for e in events)
    assert any(isinstance(e, AudioChunk) for e in events)


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)


class GatedDialog:
    """A dialog whose stream waits on the test: it proves an interrupt reaches the generator upstream."""

    def __init__(self) -> None:
        self.may_continue = threading.Event()
        self.closed = threading.Event()

    def respond(self, transcript: Transcript) -> Iterator[ReplyDelta | ReplyDone]:
        try:
            yield ReplyDelta("This first sentence is spoken at once. ")
            self.may_continue.wait(timeout=10)
            yield ReplyDelta("This one never should be. ")
            yield ReplyDone()
        finally:
            self.closed.set()


def test_earcon_starts_the_reply_and_interrupt_flushes_everything(tiny_piper_voice: Path) -> None:
    synthesizer = PiperSynthesizer(TtsOptions(tiny_piper_voice))
    synthesizer.start()
    dialog = GatedDialog()
    sink = MemorySink()
    collector = Collector()
    hub = ObserverHub([collector])
    player = TurnPlayer(Pipeline(None, dialog, synthesizer, english()), sink, hub, use_earcon=True)
    player.start_turn(Transcript("hi", "en"))
    chime = earcon(synthesizer.rate)
    current = sink.current
    assert current is not None and current[1].startswith(chime)  # before any model work has finished

    for _ in range(200):
        if any(isinstance(e, Clause) for e in collector.events):
            break
        threading.Event().wait(0.01)
    player.interrupt()
    dialog.may_continue.set()
    player.wait(timeout=10)

    assert not player.busy
    assert dialog.closed.is_set()  # the upstream generator was closed, not left running
    assert sink.stopped_count >= 1
    spoken = [e.text for e in collector.events if isinstance(e, Clause)]
    assert "This one never should be." not in spoken
    assert any(isinstance(e, Interrupt) for e in collector.events)
    assert collector.events[-1] == TurnDone(interrupted=True)


class FailingDialog:
    """Says half a word, then fails: with a stage's own error, or with a library's (or a bug's)."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def respond(self, transcript: Transcript) -> Iterator[ReplyDelta | ReplyDone]:
        yield ReplyDelta("Half")
        raise self._error


@pytest.mark.parametrize(
    ("error", "code"),
    [(LlmError("the model fell over"), "llm"), (KeyError("not a CompanionError"), "internal")],
)
def test_a_failing_stage_is_reported_and_the_person_hears_an_apology(
    tiny_piper_voice: Path, error: Exception, code: str
) -> None:
    synthesizer = PiperSynthesizer(TtsOptions(tiny_piper_voice))
    sink = MemorySink()
    collector = Collector()
    player = TurnPlayer(
        Pipeline(None, FailingDialog(error), synthesizer, english()), sink, ObserverHub([collector]), False
    )
    player.start_turn(Transcript("hi", "en"))
    player.wait(timeout=10)
    errors = [e for e in collector.events if isinstance(e, StageError)]
    assert errors and errors[0].code == code
    spoken = [e.text for e in collector.events if isinstance(e, Clause)]
    assert spoken[-1] in " ".join(english().lines["something_went_wrong"])
    assert collector.events[-1] == TurnDone(interrupted=False)
    assert len(sink.streams) == 1 and len(sink.streams[0][1]) > 0


def test_speakable_drops_what_a_voice_cannot_say(tiny_piper_voice: Path) -> None:
    from companion.stages.tts import speakable

    assert speakable("Hello 😊 *there*\n— friend™") == "Hello there friend"
    synthesizer = PiperSynthesizer(TtsOptions(tiny_piper_voice))
    assert list(synthesizer.synthesize("😊 ★")) == []


def test_an_interrupted_turn_is_no_longer_busy_so_the_next_press_is_heard(tiny_piper_voice: Path) -> None:
    synthesizer = PiperSynthesizer(TtsOptions(tiny_piper_voice))
    dialog = GatedDialog()
    player = TurnPlayer(Pipeline(None, dialog, synthesizer, english()), MemorySink(), ObserverHub(), False)
    player.start_turn(Transcript("hi", "en"))
    assert player.busy
    player.interrupt()
    assert not player.busy  # even while the worker is still inside a model call
    dialog.may_continue.set()
    player.wait(timeout=10)


def test_a_failing_observer_does_not_stop_the_others() -> None:
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("observer bug")

    hub = ObserverHub([broken, seen.append])
    hub.start()
    hub.publish(TurnDone())
    hub.flush()
    hub.close()
    hub.publish(TurnDone(interrupted=True))  # after close: dropped, not delivered late
    assert seen == [TurnDone()]
