"""The one event vocabulary of the speech loop.

Every stage consumes and produces these frozen dataclasses. Audio travels as start / chunks / stop, the way
rhasspy/wyoming frames it, so a stage can tell where one stream ends without looking at a clock. Times are
*audio time* in milliseconds since the capture stream began, never the wall clock: turn-taking stays
deterministic and testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

SAMPLE_WIDTH = 2
"""Bytes per sample: all audio in the loop is signed 16-bit little-endian PCM."""

CAPTURE_RATE = 16_000
"""The microphone rate the recogniser and the VAD expect."""


@dataclass(frozen=True)
class AudioStart:
    rate: int
    channels: int = 1


@dataclass(frozen=True)
class AudioChunk:
    """A block of mono int16 PCM. `timestamp_ms` is the audio time of its first sample."""

    audio: bytes
    rate: int
    timestamp_ms: int = 0

    @property
    def samples(self) -> int:
        return len(self.audio) // SAMPLE_WIDTH

    @property
    def duration_ms(self) -> int:
        return self.samples * 1000 // self.rate


@dataclass(frozen=True)
class AudioStop:
    timestamp_ms: int = 0


@dataclass(frozen=True)
class ButtonDown:
    """The button went down. It carries no time: its place among the audio chunks of the stream is its
    time, which the endpointer reads by counting the samples before it."""


@dataclass(frozen=True)
class ButtonUp:
    """The button came up (see ButtonDown about time)."""


class ListenMode(Enum):
    PUSH_TO_TALK = "push_to_talk"
    """Held button: the release ends the utterance."""
    HANDS_FREE = "hands_free"
    """A short tap started it: a stretch of silence ends it."""


class EndReason(Enum):
    RELEASE = "release"
    SILENCE = "silence"
    MAX_LENGTH = "max_length"
    NO_SPEECH = "no_speech"


@dataclass(frozen=True)
class ListeningStarted:
    mode: ListenMode
    timestamp_ms: int = 0


@dataclass(frozen=True)
class Utterance:
    """What the person said, as one block of 16 kHz audio, ready for the recogniser."""

    audio: bytes
    rate: int
    reason: EndReason
    end_ms: int = 0

    @property
    def duration_ms(self) -> int:
        return len(self.audio) // SAMPLE_WIDTH * 1000 // self.rate


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    sure: bool = True
    """False when the recogniser's own scores say it may well have misheard: the companion then asks."""


@dataclass(frozen=True)
class Act:
    """A structured decision carried by a reply (e.g. `suggest_group`), counted later by usage summaries.

    Acts never contain what the person said: only a kind and small, non-identifying details.
    """

    kind: str
    details: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ReplyDelta:
    """A piece of reply text as it streams out of the dialog."""

    text: str


@dataclass(frozen=True)
class ReplyDone:
    """The reply is complete. `acts` says what the dialog decided, independently of the text."""

    acts: tuple[Act, ...] = ()


@dataclass(frozen=True)
class Clause:
    """A clause of the reply complete enough to be spoken on its own."""

    text: str


@dataclass(frozen=True)
class Interrupt:
    """The person pressed the button while the companion spoke: everything downstream is dropped."""


@dataclass(frozen=True)
class TurnDone:
    """The turn is over (spoken, interrupted or failed); the loop is idle again."""

    interrupted: bool = False


@dataclass(frozen=True)
class StageError:
    """A stage failed. `code` is stable (see companion.errors) so the light and usage can count it."""

    stage: str
    code: str
    message: str


@dataclass(frozen=True)
class ReminderWaiting:
    """A reminder is about to be spoken or waits for its press (True), or none waits any more (False)."""

    waiting: bool


@dataclass(frozen=True)
class DeviceFault:
    """A part of the device went missing (the microphone unplugged: `missing`) or came back."""

    part: str
    missing: bool


Event = (
    AudioStart
    | AudioChunk
    | AudioStop
    | ButtonDown
    | ButtonUp
    | ListeningStarted
    | Utterance
    | Transcript
    | ReplyDelta
    | ReplyDone
    | Clause
    | Interrupt
    | TurnDone
    | StageError
    | ReminderWaiting
    | DeviceFault
)
