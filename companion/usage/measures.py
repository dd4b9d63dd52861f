"""What is counted for evaluation: a fixed vocabulary of measures and their details, nothing else.

A usage count is (day, measure, detail, count). Measures and details come only from the tables below, so
no word the person said, no name and no time of day can reach a count — whatever the dialog's acts carry.
"""

from __future__ import annotations

from collections.abc import Mapping

SUGGESTION_KINDS = ("group", "relative", "volunteer")
LENGTHS = ("1", "2-3", "4-7", "8+")
"""A conversation's length, in turns: buckets, so a long talk is not told apart from other long ones."""
LONELINESS_SCORES = tuple(str(score) for score in range(3, 10))
"""The Three-Item Loneliness Scale's sum: three answers of 1 (hardly ever) to 3 (often)."""
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
    "loneliness_score": LONELINESS_SCORES,
}
"""Each measure and its details ("" when it has none)."""
DEVICE_HEALTH = ("uptime_minutes", "microphone_missing_minutes", "errors")
"""Measures of the device rather than of the person: reports add no noise to them."""
WEEKLY_BOUND: Mapping[str, int] = {
    "conversations": 30,
    "turns": 300,
    "suggestions_offered": 20,
    "suggestions_accepted": 20,
    "suggestions_declined": 20,
    "sessions_reminded": 20,
    "sessions_attended": 14,
    "reminders_delivered": 60,
    "reminders_acknowledged": 60,
    "reminders_missed": 60,
    "helpline_given": 10,
    "loneliness_score": 1,
}
"""The most one person counts toward a measure's total in a week, when the report adds noise: what is
above is clipped, so one person can change a total by this much at most (the noise's sensitivity)."""


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
