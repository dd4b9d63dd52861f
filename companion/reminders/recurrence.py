"""Wall times, recurrence rules and the instants reminders are spoken at. Pure: no database, no clock.

Rules are expanded in naive Copenhagen wall time (a weekly 14:00 stays 14:00 across daylight-saving
changes) and only each occurrence becomes an instant:
- a wall time in the spring-forward gap is spoken at the first valid minute after it (03:00);
- a wall time in the repeated autumn hour is spoken once, at its first passing (the occurrence is one row,
  keyed by its wall time, so the second 02:30 finds it already taken).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

from dateutil.rrule import rrule, rruleset, rrulestr

from companion.errors import ReminderError
from companion.mind.catalogue import COPENHAGEN

WALL_FORMAT = "%Y-%m-%dT%H:%M"
MAX_TEXT = 500
MIN_GAP = timedelta(hours=1)
"""Rules that would speak more often than this are refused: a companion that nags is switched off."""

Lead = Literal["at", "morning", "before"]
_ALLOWED_FREQ = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
_ALLOWED_PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYHOUR",
    "BYMINUTE",
    "WKST",
)
_DAYS_IN_MONTH_LEAP = [calendar.monthrange(2028, month)[1] for month in range(1, 13)]


def wall_text(wall: datetime) -> str:
    return wall.strftime(WALL_FORMAT)


def parse_wall(text: str) -> datetime:
    """ "2026-12-03T14:00" (a space instead of T is fine) → a naive wall time; a clear refusal otherwise."""
    try:
        wall = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ReminderError(
            f"'{text}' is not a date and time that exists.",
            "Write it as YYYY-MM-DDTHH:MM, e.g. 2026-12-03T14:00.",
            reason="no_such_date",
        ) from error
    if wall.tzinfo is not None:
        wall = wall.astimezone(COPENHAGEN).replace(tzinfo=None)
    return wall.replace(second=0, microsecond=0)


def in_gap(wall: datetime) -> bool:
    """True when the clocks jump over this wall time (the spring-forward hour)."""
    aware = wall.replace(tzinfo=COPENHAGEN, fold=0)
    return aware.astimezone(UTC).astimezone(COPENHAGEN).replace(tzinfo=None) != wall


def instant(wall: datetime) -> datetime:
    """The naive-UTC instant of a Copenhagen wall time: a gap time moves to the first valid minute after it;
    a repeated autumn time is its first passing."""
    candidate = wall.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        if not in_gap(candidate):
            return candidate.replace(tzinfo=COPENHAGEN, fold=0).astimezone(UTC).replace(tzinfo=None)
        candidate += timedelta(minutes=1)
    raise AssertionError(f"no valid minute within a day after {wall}")


def local(instant_utc: datetime) -> datetime:
    """A naive-UTC instant as a naive Copenhagen wall time."""
    return instant_utc.replace(tzinfo=UTC).astimezone(COPENHAGEN).replace(tzinfo=None)


# -- rules ---------------------------------------------------------------------------------------------


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in text.strip().removeprefix("RRULE:").split(";"):
        name, _, value = part.partition("=")
        if not value:
            raise ReminderError(f"The rule '{text}' is not an RFC 5545 RRULE ('{part}' has no value).")
        parts[name.strip().upper()] = value.strip().upper()
    return parts


def check_rule_text(text: str) -> None:
    """Refuse what cannot fire, fires too often, or could make the rule library search for ever."""
    parts = _parts(text)
    unknown = sorted(set(parts) - set(_ALLOWED_PARTS))
    if unknown:
        raise ReminderError(
            f"The rule uses {', '.join(unknown)}, which reminders do not support.",
            f"Use only {', '.join(_ALLOWED_PARTS)}.",
        )
    freq = parts.get("FREQ")
    if freq in ("MINUTELY", "SECONDLY"):
        raise ReminderError(
            "The rule would remind every minute or second: far too often.",
            "For several times a day use FREQ=DAILY with BYHOUR, e.g. FREQ=DAILY;BYHOUR=8,20.",
        )
    if freq == "HOURLY":
        # Every hour through the night would pile up at the end of quiet hours, all at once.
        raise ReminderError(
            "The rule would remind every hour, also through the night.",
            "For several times a day use FREQ=DAILY with BYHOUR, e.g. FREQ=DAILY;BYHOUR=8,14,20.",
        )
    if freq not in _ALLOWED_FREQ:
        raise ReminderError(f"The rule's FREQ must be one of {', '.join(_ALLOWED_FREQ)} (got {freq}).")
    if parts.get("COUNT") == "0":
        raise ReminderError("The rule has COUNT=0, so it would never remind.")
    # A day no month has (30 February) makes the rule library search day by day until the year 9999.
    if "BYMONTHDAY" in parts:
        months = [int(m) for m in parts.get("BYMONTH", "1,2,3,4,5,6,7,8,9,10,11,12").split(",")]
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
        if not any(0 < abs(day) <= _DAYS_IN_MONTH_LEAP[month - 1] for day in days for month in months):
            raise ReminderError("The rule names a day that does not exist in its months, so it never fires.")


@lru_cache(maxsize=4096)
def expand(text: str | None, start: datetime) -> rrule | rruleset:
    """The occurrences (naive wall times) of a rule anchored at `start`; a one-off is a set of one.

    Kept once parsed (a page of reminders asks for the same rules again and again); the rule objects are
    only ever iterated, never changed, so sharing them between threads is safe."""
    if not text:
        single = rruleset()
        single.rdate(start)
        return single
    try:
        rule = rrulestr(text.strip().removeprefix("RRULE:"), dtstart=start)
    except (ValueError, TypeError) as error:
        raise ReminderError(f"The rule '{text}' is not a valid RFC 5545 RRULE: {error}.") from error
    assert isinstance(rule, rrule | rruleset)
    return rule


def check_rule(text: str, start: datetime, now_wall: datetime) -> None:
    """The whole check of a recurring reminder's rule (see `check_rule_text`), plus: it fires again after
    now, and never more often than MIN_GAP."""
    check_rule_text(text)
    rule = expand(text, start)
    following = rule.after(now_wall, inc=True)
    if following is None:
        raise ReminderError("The rule never reminds again after now.", "Check its COUNT, UNTIL and start.")
    previous: datetime | None = None
    for wall in rule.xafter(now_wall, count=50, inc=True):
        if previous is not None and wall - previous < MIN_GAP:
            raise ReminderError(
                f"The rule would remind {wall - previous} apart: more often than once an hour.",
                "Choose at most one reminder an hour.",
            )
        previous = wall


# -- when to speak ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """When reminders are spoken, from the [reminders] settings."""

    morning: time = time(9, 0)
    lead: timedelta = timedelta(minutes=60)
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)

    def quiet_at(self, wall: datetime) -> bool:
        return self.out_of_quiet(wall) != wall

    def out_of_quiet(self, wall: datetime) -> datetime:
        """The first wall time at or after `wall` outside quiet hours."""
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return wall
        clock = wall.time()
        overnight = start > end
        quiet = (clock >= start or clock < end) if overnight else start <= clock < end
        if not quiet:
            return wall
        day = wall.date() + timedelta(days=1) if overnight and clock >= start else wall.date()
        return datetime.combine(day, end)


@dataclass(frozen=True)
class Due:
    """One moment a reminder is to be spoken."""

    reminder_id: int
    due_at: datetime
    """The occurrence's wall time (a group session's start)."""
    lead: Lead
    speak_utc: datetime


LATE_NOTICE = timedelta(minutes=20)
"""A group session chosen later than its lead time is still mentioned once, halfway to its start, if there
are at least this many minutes left."""


def speaking_times(
    reminder_id: int,
    wall: datetime,
    for_group: bool,
    urgent: bool,
    timing: Timing,
    made_utc: datetime | None = None,
) -> list[Due]:
    """The moments one occurrence is spoken: at its time, or for a group session the morning of the day
    (when that is before the lead) and the lead before it; quiet hours hold all but urgent ones."""
    if not for_group:
        moments: list[tuple[Lead, datetime]] = [("at", instant(wall))]
    else:
        starts = instant(wall)
        before = starts - timing.lead
        if made_utc is not None and before <= made_utc <= starts - LATE_NOTICE:
            # "Ja, mind mig om det" forty minutes before: a promise the lead time alone would not keep.
            before = (made_utc + (starts - made_utc) / 2).replace(second=0, microsecond=0)
        moments = [("before", before)]
        morning = instant(datetime.combine(wall.date(), timing.morning))
        if morning < before:
            moments.insert(0, ("morning", morning))
    dues = []
    for lead, speak in moments:
        if not urgent:
            speak = instant(timing.out_of_quiet(local(speak)))
        dues.append(Due(reminder_id, wall, lead, speak))
    return dues


def next_dues(
    rule: rrule | rruleset,
    reminder_id: int,
    after_utc: datetime,
    for_group: bool,
    urgent: bool,
    timing: Timing,
    made_utc: datetime | None = None,
) -> Iterator[Due]:
    """The reminder's speaking moments after `after_utc`, in order, lazily.

    The rule is searched from a day before (a morning-of or quiet-hours shift moves a moment by hours, not
    days), and moments are yielded once no earlier one can follow. Two occurrences that would be spoken at
    the same moment (02:00 and 03:00 on the night the clocks jump, or two night-time ones held until
    morning) are spoken once.
    """
    said: tuple[str, datetime] | None = None
    for due in _in_order(rule, reminder_id, after_utc, for_group, urgent, timing, made_utc):
        if said != (due.lead, due.speak_utc):
            said = (due.lead, due.speak_utc)
            yield due


def _in_order(
    rule: rrule | rruleset,
    reminder_id: int,
    after_utc: datetime,
    for_group: bool,
    urgent: bool,
    timing: Timing,
    made_utc: datetime | None,
) -> Iterator[Due]:
    search_from = local(after_utc) - timedelta(days=1) - timing.lead
    waiting: list[Due] = []
    for wall in rule.xafter(search_from, inc=True):
        moments = speaking_times(reminder_id, wall, for_group, urgent, timing, made_utc)
        waiting = sorted(waiting + [d for d in moments if d.speak_utc > after_utc], key=lambda d: d.speak_utc)
        # A later wall time cannot be spoken before (its earliest moment) - its own day's morning - quiet.
        horizon = instant(wall) - timing.lead - timedelta(days=1)
        while waiting and waiting[0].speak_utc <= horizon:
            yield waiting.pop(0)
    yield from waiting
