"""What is counted for evaluation: a fixed vocabulary of measures and their details, nothing else.

A usage count is (day, measure, detail, count). Measures and details come only from the tables below, so
no word the person said, no name and no time of day can reach a count — whatever the dialog's acts carry.
"""

from __future__ import annotations

from collections.abc import Mapping

SUGGESTION_KINDS = ("group", "relative", "volunteer")
LENGTHS = ("1", "2-3", "4-7", "8+")
"""A conversation's length, in turns: buckets, so a long talk is not told apart from other long ones."""
STAGES = ("audio", "stt", "llm", "tts", "mind", "store", "reminder", "hardware", "model", "other")

MEASURES: Mapping[str, tuple[str, ...]] = {
    "conversations": LENGTHS,
    "turns": ("",),
    "suggestions_offered": SUGGESTION_KINDS,
    "suggestions_accepted": SUGGESTION_KINDS,
    "suggestions_declined": SUGGESTION_KINDS,
    "sessions_reminded": ("",),
    "sessions_attended": ("",),
    "reminders_delivered": ("",),
    "reminders_acknowledged": ("",),
    "reminders_missed": ("",),
    "helpline_given": ("",),
    "errors": STAGES,
    "uptime_minutes": ("",),
    "microphone_missing_minutes": ("",),
}
"""Each measure and its details ("" when it has none)."""


def length_bucket(turns: int) -> str:
    if turns <= 1:
        return "1"
    if turns <= 3:
        return "2-3"
    if turns <= 7:
        return "4-7"
    return "8+"


def stage_of(code: str) -> str:
    """The stage of a StageError's stable code ("stt", "audio.device" → "audio")."""
    stage = code.split(".")[0]
    return stage if stage in STAGES else "other"


def check(measure: str, detail: str) -> None:
    """Refuse anything outside the vocabulary: a programming error, never the person's words in a count."""
    if detail not in MEASURES.get(measure, ()):
        raise ValueError(f"not a usage measure: {measure!r} / {detail!r}")
