"""The endpointer is fed audio time only: these tests need no clock and no sleeps."""

from __future__ import annotations

import pytest

from companion.events import (
    AudioChunk,
    ButtonDown,
    ButtonUp,
    EndReason,
    Event,
    ListeningStarted,
    ListenMode,
    Utterance,
)
from companion.settings import ListeningSettings
from companion.stages.endpoint import Endpointer

BLOCK = 512  # samples, 32 ms at 16 kHz
SPEECH = b"\x10\x00" * BLOCK  # the fake detector below calls any non-silent block speech
SILENCE = b"\x00\x00" * BLOCK


def loudness_detector(frame: bytes) -> float:
    return 1.0 if any(frame) else 0.0


def feed(endpointer: Endpointer, events: list[Event]) -> list[Event]:
    return [out for event in events for out in endpointer.process(event)]


def blocks(audio: bytes, count: int) -> list[Event]:
    return [AudioChunk(audio, 16000) for _ in range(count)]


@pytest.fixture
def endpointer() -> Endpointer:
    return Endpointer(ListeningSettings(), loudness_detector)


def test_hold_to_talk_release_ends_the_utterance(endpointer: Endpointer) -> None:
    out = feed(endpointer, [ButtonDown(), *blocks(SPEECH, 40), ButtonUp()])
    assert out[0] == ListeningStarted(ListenMode.PUSH_TO_TALK, 0)
    utterance = out[-1]
    assert isinstance(utterance, Utterance)
    assert utterance.reason is EndReason.RELEASE
    assert len(utterance.audio) == 40 * len(SPEECH)
    assert not endpointer.listening


def test_audio_before_the_press_is_not_heard(endpointer: Endpointer) -> None:
    out = feed(endpointer, [*blocks(SPEECH, 10), ButtonDown(), *blocks(SPEECH, 20), ButtonUp()])
    assert isinstance(out[-1], Utterance) and len(out[-1].audio) == 20 * len(SPEECH)


def test_tap_starts_hands_free_turn_that_silence_ends(endpointer: Endpointer) -> None:
    settings = ListeningSettings()
    silence_blocks = settings.silence_end_ms // 32 + 1
    out = feed(
        endpointer,
        [
            ButtonDown(),
            *blocks(SILENCE, 3),
            ButtonUp(),
            *blocks(SPEECH, 30),
            *blocks(SILENCE, silence_blocks),
        ],
    )
    assert [type(e) for e in out] == [ListeningStarted, ListeningStarted, Utterance]
    assert out[1] == ListeningStarted(ListenMode.HANDS_FREE, 96)
    assert isinstance(out[2], Utterance) and out[2].reason is EndReason.SILENCE
    # One block short of the silence limit would not have ended it:
    again = Endpointer(settings, loudness_detector)
    partial = feed(
        again, [ButtonDown(), ButtonUp(), *blocks(SPEECH, 5), *blocks(SILENCE, silence_blocks - 2)]
    )
    assert not any(isinstance(e, Utterance) for e in partial)


def test_hands_free_with_nobody_speaking_ends_empty(endpointer: Endpointer) -> None:
    timeout_blocks = ListeningSettings().no_speech_timeout_ms // 32 + 1
    out = feed(endpointer, [ButtonDown(), ButtonUp(), *blocks(SILENCE, timeout_blocks)])
    assert isinstance(out[-1], Utterance)
    assert out[-1].reason is EndReason.NO_SPEECH and out[-1].audio == b""


def test_press_during_hands_free_ends_it(endpointer: Endpointer) -> None:
    out = feed(endpointer, [ButtonDown(), ButtonUp(), *blocks(SPEECH, 10), ButtonDown()])
    assert isinstance(out[-1], Utterance) and out[-1].reason is EndReason.RELEASE
    assert feed(endpointer, [ButtonUp()]) == []
    assert not endpointer.listening


def test_over_long_speech_is_cut_and_processed() -> None:
    settings = ListeningSettings(max_utterance_ms=1000)
    endpointer = Endpointer(settings, loudness_detector)
    out = feed(endpointer, [ButtonDown(), *blocks(SPEECH, 100)])
    utterances = [e for e in out if isinstance(e, Utterance)]
    assert len(utterances) == 1 and utterances[0].reason is EndReason.MAX_LENGTH
    assert utterances[0].duration_ms == 1000
    # The release that follows does not start or end anything.
    assert feed(endpointer, [*blocks(SPEECH, 5), ButtonUp()]) == []


def test_end_of_stream_ends_what_is_being_heard(endpointer: Endpointer) -> None:
    feed(endpointer, [ButtonDown(), *blocks(SPEECH, 3), ButtonUp(), *blocks(SPEECH, 5)])
    assert endpointer.listening
    out = list(endpointer.end_of_stream())
    assert len(out) == 1 and isinstance(out[0], Utterance) and len(out[0].audio) == 8 * len(SPEECH)
    assert list(endpointer.end_of_stream()) == []


def test_real_silero_vad_ends_a_hands_free_turn_on_real_speech(speech_wav_16k: bytes) -> None:
    from companion.stages.vad import SileroVad

    vad = SileroVad()
    vad.start()
    endpointer = Endpointer(ListeningSettings(silence_end_ms=600), vad)
    speech = [
        AudioChunk(speech_wav_16k[i : i + 1024], 16000) for i in range(0, len(speech_wav_16k) - 1023, 1024)
    ]
    out = feed(endpointer, [ButtonDown(), ButtonUp(), *blocks(SILENCE, 10), *speech, *blocks(SILENCE, 40)])
    utterances = [e for e in out if isinstance(e, Utterance)]
    assert len(utterances) == 1
    assert utterances[0].reason is EndReason.SILENCE
    # It ended after the speech, not during it: the whole spoken sentence is in the utterance.
    assert len(utterances[0].audio) >= len(speech_wav_16k) - 2048
