"""Steering toward people: which one concrete human step to offer, and whether one may be offered now.

A step is a catalogue group, a volunteer (a conversation or visit friend), or a named relative. Skills
come before interests (people join to contribute, not only to receive); interests before plain company;
the person's preferred format (physical, online, phone) filters the candidates when it leaves any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from companion.mind.catalogue import Group, Relative
from companion.mind.lexicon import GroupIndex, Match
from companion.mind.memory import MindState
from companion.mind.understand import Reading

Why = Literal["skill", "interest", "relative", "lonely", "missing", "grief", "bored", "asked", "person"]
# The cues that ask for a step even when no interest was named, most telling first.
_CUES: tuple[Why, ...] = ("missing", "grief", "lonely", "bored", "asked", "person")
_CUE_INTENTS = {
    "missing": "missing",
    "grief": "grief",
    "lonely": "lonely",
    "bored": "bored",
    "asked": "wants_suggestion",
    "person": "treats_as_person",
}
_DECLINE_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Step:
    why: Why
    group: Group | None = None
    relative: Relative | None = None
    interest: str | None = None
    """The interest that led here ("læsning"), which the companion may ask to remember."""

    @property
    def kind(self) -> str:
        """How usage summaries count it: group, volunteer or relative."""
        if self.relative is not None:
            return "relative"
        if self.group is None or self.group.kind == "volunteer":
            return "volunteer"
        return "group"


def cue_of(reading: Reading) -> Why | None:
    return next((why for why in _CUES if _CUE_INTENTS[why] in reading.intents), None)


def _by_format(matches: Sequence[Match], preferred: str | None) -> list[Match]:
    """Only groups in the format the person prefers: "I want to see real faces" rules out the screen."""
    # Someone who cannot get out ("phone") can still meet people on the screen.
    allowed = {"phone": ("phone", "online")}.get(preferred or "", (preferred,))
    return [m for m in matches if preferred is None or m.group.format in allowed]


def _soonest(matches: Sequence[Match], now: datetime) -> Match | None:
    """Best score first; among equals the group that meets soonest (the easiest first step)."""
    sessions = {m.group.id: m.group.upcoming(now) for m in matches}
    running = [m for m in matches if sessions[m.group.id] is not None]  # a course that has ended: no step
    if not running:
        return None
    return min(running, key=lambda m: (-m.score, sessions[m.group.id]))


def choose_step(
    reading: Reading,
    index: GroupIndex,
    relatives: Sequence[Relative],
    interests: Sequence[str],
    preferred_format: str | None,
    now: datetime,
    chosen: frozenset[str] = frozenset(),
) -> Step | None:
    """The one step to offer for what was just said, or None when it carries no reason to offer one.
    Groups in `chosen` (a reminder for them is already set) are not offered again."""
    cue = cue_of(reading)
    reading = replace(
        reading,
        interests=tuple(m for m in reading.interests if m.group.id not in chosen),
        skills=tuple(m for m in reading.skills if m.group.id not in chosen),
    )
    # Speaking of a relative, or missing them, is the clearest step there is: that very person.
    if reading.relatives and (
        cue in ("missing", "lonely", "bored", "asked")
        or (cue is None and not (reading.skills or reading.interests))
    ):
        return Step(cue or "relative", relative=reading.relatives[0])
    skill = _soonest(_by_format(reading.skills, preferred_format), now)
    if skill is not None:
        return Step("skill", group=skill.group)
    interest = _soonest(_by_format([m for m in reading.interests if m.strong], preferred_format), now)
    if interest is not None:
        return Step("interest", group=interest.group, interest=interest.family)
    company = _soonest(_by_format(reading.interests, preferred_format), now) if cue else None
    if company is not None:  # "ensom … en kop kaffe": company is the point, not an interest to remember
        return Step(cue or "lonely", group=company.group)
    if cue is None:
        return None
    if interests:
        best = _soonest(_by_format(index.by_interest(" ".join(interests)), preferred_format), now)
        if best is not None:
            return Step(cue, group=best.group, interest=best.family)
    if cue == "missing" and relatives:
        return Step(cue, relative=relatives[0])
    return _company(cue, index, preferred_format, now) or (
        Step(cue, relative=relatives[0]) if relatives else Step(cue)
    )


def _company(cue: Why, index: GroupIndex, preferred_format: str | None, now: datetime) -> Step | None:
    """For plain loneliness: a volunteer friend first after a loss, else a group made for company."""
    volunteers = [
        Match(g, 1, index.lexicon.company_family) for g in index.catalogue.groups if g.kind == "volunteer"
    ]
    if cue == "grief" and volunteers:
        fitting = _by_format(volunteers, preferred_format) or volunteers
        return Step(cue, group=fitting[0].group)
    family = index.lexicon.company_family
    company = index.by_interest(" ".join(index.lexicon.families.get(family, (family,))))
    best = _soonest(_by_format(company, preferred_format) or _by_format(volunteers, preferred_format), now)
    return Step(cue, group=best.group) if best is not None else None


@dataclass(frozen=True)
class Caps:
    per_day: int
    declines_before_pause: int


def may_suggest(state: MindState, suggested_this_conversation: int, caps: Caps, today: date) -> bool:
    """At most one suggestion per conversation and `per_day` a day; none while paused."""
    return (
        not state.paused_until_asked
        and suggested_this_conversation == 0
        and state.suggestions_on(today) < caps.per_day
    )


def record_decline(state: MindState, caps: Caps, today: date) -> bool:
    """Mark the latest suggestion declined; True when that makes the companion stop suggesting."""
    for suggestion in reversed(state.suggestions):
        if not suggestion.declined:
            suggestion.declined = True
            break
    if state.declines_since(today - _DECLINE_WINDOW) >= caps.declines_before_pause:
        state.paused_until_asked = True
    return state.paused_until_asked
