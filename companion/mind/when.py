"""Finding the time in one thing a person said ("i morgen klokken ti"), and saying it back plainly.

Speech recognition gives lower- or upper-case text with unreliable punctuation, and Danes say times in
ways no date library knows ("halv tre" is 2.30, "kvart i elleve" is 10.45). So a small grammar built
from dialogs/<lang>/time.toml finds the pieces (a day, a weekday, a date, a part of the day, a clock
time, or "om to timer"); pieces next to each other make one expression. Only a date with a month name
is handed to dateparser, which knows calendars and leap years but misreads the idioms.
time_words.py reads and checks time.toml; this module is only the grammar and the arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from companion.mind.time_words import DayPart, TimeWords, read_time_words, word_key

__all__ = [
    "TZ",
    "DayPart",
    "TimeFound",
    "TimeProblem",
    "TimeWords",
    "find_time",
    "load_time_words",
    "say_time",
]

TZ = ZoneInfo("Europe/Copenhagen")
_GAP = re.compile(r"[\s,.;:!?'\"()\-]*")  # what may stand between the pieces of one expression
_SLOTS = ("minutes", "days", "weekday", "date", "part", "clock")


@dataclass(frozen=True)
class TimeFound:
    at: datetime
    start: int
    end: int
    hour_said: bool = True
    """False when only a day was said ("på fredag"): the hour is the default, and may be worth asking."""


@dataclass(frozen=True)
class TimeProblem:
    reason: Literal["no_such_date", "dst_gap", "in_the_past"]
    start: int
    end: int


@dataclass(frozen=True)
class _Clock:
    hour: int  # 0-23 when fixed (13.30, 02.30, pm); otherwise 1-12 as said, morning or afternoon
    minute: int
    fixed: bool


@dataclass(frozen=True)
class _Said:
    """What one piece, or a run of neighbouring pieces, says; at most one of each slot."""

    start: int
    end: int
    minutes: float | None = None
    days: int | None = None
    weekday: tuple[int, bool] | None = None  # (0 = Monday, "next week's")
    date: tuple[int, int, int | None] | None = None  # (day, month, year)
    part: tuple[DayPart, bool] | None = None
    clock: _Clock | None = None


_Reader = Callable[[re.Match[str], TimeWords], _Said | None]


def _number(text: str, words: TimeWords, table: str = "numbers") -> int:
    return int(text) if text.isdigit() else int(words.tables[table][word_key(text)])


def _check_now(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (Europe/Copenhagen)")
    return now.astimezone(TZ)


def find_time(text: str, now: datetime, words: TimeWords) -> TimeFound | TimeProblem | None:
    now = _check_now(now)
    found: list[_Said] = []
    for pattern, read in words.patterns:
        found += [said for match in pattern.finditer(text) if (said := read(match, words)) is not None]
    found.sort(key=lambda said: (said.start, -said.end))
    runs: list[_Said] = []
    for said in found:
        if runs and said.start < runs[-1].end:
            continue  # overlaps a longer or earlier piece ("morgen" inside "i morgen")
        if runs and _GAP.fullmatch(text, runs[-1].end, said.start) and (both := _join(runs[-1], said)):
            runs[-1] = both
        else:
            runs.append(said)
    # A bare "aften" or "morgen" ("god morgen") is not a time until a day or a clock time comes with it.
    runs = [run for run in runs if run.part is None or run.part[1] or _filled(run) > 1]
    return _resolve(max(runs, key=_filled), now, words) if runs else None


def _filled(said: _Said) -> int:
    return sum(getattr(said, slot) is not None for slot in _SLOTS)


def _join(first: _Said, then: _Said) -> _Said | None:
    if first.minutes is not None or then.minutes is not None:
        return None  # "om to timer" stands alone
    if any(getattr(first, slot) is not None and getattr(then, slot) is not None for slot in _SLOTS):
        return None
    new: dict[str, Any] = {slot: getattr(then, slot) for slot in _SLOTS if getattr(then, slot) is not None}
    return replace(first, end=then.end, **new)


def _resolve(said: _Said, now: datetime, words: TimeWords) -> TimeFound | TimeProblem:
    span = (said.start, said.end)
    if said.minutes is not None and said.minutes % (24 * 60):
        # A duration is real time, so it is added in UTC (an hour across a clock change is still an hour).
        at = (now.astimezone(UTC) + timedelta(minutes=said.minutes)).astimezone(TZ)
        at = at.replace(second=0, microsecond=0)
        return TimeFound(at, *span) if at.timestamp() > now.timestamp() else TimeProblem("in_the_past", *span)
    wall = _meant(said, now, words)
    if wall is None:
        return TimeProblem("no_such_date", *span)
    if not _after(wall, now):
        return TimeProblem("in_the_past", *span)
    at = wall.replace(tzinfo=TZ)  # fold=0: of the repeated autumn hour, the first
    if at.astimezone(UTC).astimezone(TZ).replace(tzinfo=None) != wall:
        return TimeProblem("dst_gap", *span)
    return TimeFound(at, *span, hour_said=said.clock is not None or said.part is not None)


def _meant(said: _Said, now: datetime, words: TimeWords) -> datetime | None:
    """The wall-clock time meant, or None for a date the calendar does not have."""
    if said.minutes is not None:  # whole days: "om en uge" is the same time of day, whatever the clocks did
        return now.replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=said.minutes)
    anchor: date | None = None
    if said.date is not None:
        anchor = _calendar_date(*said.date, now, words)
        if anchor is None:
            return None
    elif said.days is not None:
        anchor = now.date() + timedelta(days=said.days)
    elif said.weekday is not None:
        anchor = _weekday_date(*said.weekday, now.date())
    if said.clock is None:
        return _without_clock(anchor, said.part[0] if said.part else None, now, words)
    return _with_clock(said, said.clock, anchor, now, words)


def _after(wall: datetime, now: datetime) -> bool:
    return wall.replace(tzinfo=TZ).timestamp() > now.timestamp()


def _wall(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(hours=hour, minutes=minute)


def _night_start(part: DayPart | None, now: datetime) -> date:
    """Said at 01.00, "i nat" is the night that began yesterday evening."""
    if part is not None and part.end > 24 and now.hour + 24 < part.end:
        return now.date() - timedelta(days=1)
    return now.date()


def _without_clock(anchor: date | None, part: DayPart | None, now: datetime, words: TimeWords) -> datetime:
    base = anchor if anchor is not None else _night_start(part, now)
    hour, end = (part.hour, part.end) if part is not None else (words.default_hour, words.latest_hour)
    wall = _wall(base, hour, 0)
    if _after(wall, now):
        return wall
    # "i eftermiddag" said at 16.20: the afternoon is not over, so the next quarter hour still fits.
    floor = now.replace(tzinfo=None, second=0, microsecond=0)
    soon = floor + timedelta(minutes=15 - floor.minute % 15)
    return soon if soon <= _wall(base, end, 0) else wall


def _with_clock(said: _Said, clock: _Clock, anchor: date | None, now: datetime, words: TimeWords) -> datetime:
    part, today = said.part if said.part is not None else (None, False)
    if anchor is not None:
        # With a day said, a night hour belongs to that day: "i morgen klokken halv tre om natten".
        return _wall(anchor, _in_part(clock, part, words) % 24, clock.minute)
    if part is not None:
        wall = _wall(_night_start(part, now), _in_part(clock, part, words), clock.minute)
        # "i aften" names today, so a passed time is a mistake; "om morgenen" may mean tomorrow's.
        return wall if today or _after(wall, now) else wall + timedelta(days=1)
    readings = _readings(clock, words)
    for hour in readings:
        wall = _wall(now.date(), hour, clock.minute)
        if _after(wall, now):
            return wall
    return _wall(now.date() + timedelta(days=1), readings[0], clock.minute)


def _in_part(clock: _Clock, part: DayPart | None, words: TimeWords) -> int:
    """The hour that falls in the part of the day ("otte i aften" is 20); an end past 24 gives 24-29."""
    base = clock.hour if clock.fixed else clock.hour % 12
    options = (base, base + 24) if clock.fixed else (base, base + 12, base + 24)
    fits = [hour for hour in options if part is not None and part.start <= hour < part.end]
    return fits[0] if fits else _readings(clock, words)[0]


def _readings(clock: _Clock, words: TimeWords) -> tuple[int, ...]:
    """Said alone, "klokken otte" is whichever eight comes next; the first is meant on a named day.

    Nobody means 2 at night by "klokken to" without saying so, so small hours are the afternoon's.
    """
    if clock.fixed or clock.hour == 12:
        return (clock.hour,)
    return (clock.hour + 12,) if clock.hour < words.afternoon_below else (clock.hour, clock.hour + 12)


def _weekday_date(weekday: int, next_week: bool, today: date) -> date:
    if next_week:
        return today + timedelta(days=7 - today.weekday() + weekday)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)  # "på mandag" on a Monday: in 7


def _calendar_date(day: int, month: int, year: int | None, now: datetime, words: TimeWords) -> date | None:
    if year is None and (month, day) == (now.month, now.day):
        return now.date()  # dateparser would move today's date to next year
    import dateparser  # costs a quarter of a second, so only when a month is named

    text = f"{day} {words.spoken_months[month - 1]}" + (f" {year}" if year is not None else "")
    settings = {"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
    parsed: datetime | None = dateparser.parse(text, languages=[words.language], settings=settings)
    if parsed is None or (parsed.month, parsed.day) != (month, day) or year not in (None, parsed.year):
        return None
    return parsed.date()


def say_time(at: datetime, now: datetime, words: TimeWords) -> str:
    at, now = _check_now(at), _check_now(now)
    days = (at.date() - now.date()).days
    fields = {"hour": at.hour, "hour12": at.hour % 12 or 12, "mm": f"{at.minute:02d}"}
    fields["ampm"] = words.say["pm"] if at.hour >= 12 else words.say["am"]
    clock = words.say["whole_hour" if at.minute == 0 else "with_minutes"].format(**fields).strip()
    key = {0: "today", 1: "tomorrow"}.get(days, "weekday" if 2 <= days <= 6 else "date")
    if key == "date" and at.year != now.year:
        key = "date_with_year"
    weekday, month = words.spoken_weekdays[at.weekday()], words.spoken_months[at.month - 1]
    return words.say[key].format(time=clock, weekday=weekday, day=at.day, month=month, year=at.year)


# --- reading the pieces -------------------------------------------------------------------------------


def _read_relative(match: re.Match[str], words: TimeWords) -> _Said:
    spoken = match["amount"]
    amount = words.tables["relative.amounts"].get(word_key(spoken)) or _number(spoken, words)
    half = 0.5 if match["half1"] or match["half2"] else 0.0
    minutes = (amount + half) * words.tables["relative.units"][word_key(match["unit"])]
    return _Said(match.start(), match.end(), minutes=minutes)


def _read_day(match: re.Match[str], words: TimeWords) -> _Said:
    """A day, a weekday, a date or a part of the day, whichever the shape that matched holds."""
    found, span = match.groupdict(), (match.start(), match.end())
    if found.get("weekday"):
        return _Said(*span, weekday=(_number(found["weekday"], words, "weekdays"), bool(found["next"])))
    if found.get("holiday"):
        month_day = _number(found["holiday"], words, "holidays")
        return _Said(*span, date=(month_day % 100, month_day // 100, None))
    if found.get("month"):
        year = int(found["year"]) if found["year"] else None
        day = _number(found["day"], words, "ordinals")
        return _Said(*span, date=(day, _number(found["month"], words, "months"), year))
    if found.get("part"):
        return _Said(*span, part=words.parts[word_key(found["part"])])
    return _Said(*span, days=_number(match[0], words, "days"))


def _read_hour(match: re.Match[str], words: TimeWords) -> _Said | None:
    if match["name"]:
        return _clock(match, _number(match["name"], words, "clock.named") * 60, True, words)
    if not (match["lead"] or match["ampm"] or match["ending"]):
        return None  # a bare "10" or "to" is more often ten or two of something than a time
    hour = _number(match["hour"], words)
    minute = _number(match["minute"], words) if match["minute"] else 0
    fixed = hour > 12 or hour == 0 or match["hour"].startswith("0")  # 13.30 and 02.30 are not 12-hour
    return _clock(match, hour * 60 + minute, fixed, words) if hour < 24 and minute < 60 else None


def _read_relational(match: re.Match[str], words: TimeWords) -> _Said | None:
    hour = _number(match["hour"], words)
    if hour > 23:
        return None
    total = hour * 60 - (30 if match["half"] or match["half2"] else 0)
    if match["way"]:
        table = "clock.amounts" if word_key(match["amount"]) in words.tables["clock.amounts"] else "numbers"
        amount = _number(match["amount"], words, table)
        if amount % 5 and not (match["unit"] or match["lead"]):
            return None  # "en over to meter" is a length, "fem over to" a time
        total += amount if word_key(match["way"]) in words.lists["clock.past"] else -amount
    return _clock(match, total, hour > 12, words)


def _clock(match: re.Match[str], total: int, fixed: bool, words: TimeWords) -> _Said:
    hour, minute = divmod(total % (24 * 60 if fixed else 12 * 60), 60)
    ampm = match.groupdict().get("ampm")
    if ampm:
        hour, fixed = hour % 12 + (12 if word_key(ampm) in words.lists["clock.pm"] else 0), True
    return _Said(match.start(), match.end(), clock=_Clock(hour if fixed or hour else 12, minute, fixed))


# --- building the grammar from the words --------------------------------------------------------------


@lru_cache(maxsize=8)
def load_time_words(dialogs: Path, language: str) -> TimeWords:
    words, month_first = read_time_words(dialogs, language)
    return replace(words, patterns=_patterns(words, month_first))


def _alt(phrases: Iterable[str]) -> str:
    """One regex alternative per phrase, longest first; any run of spaces or hyphens may separate words."""
    ordered = sorted({word_key(phrase) for phrase in phrases}, key=len, reverse=True)
    if not ordered:
        return "(?!)"
    return "(?:" + "|".join(r"[\s\-]+".join(map(re.escape, p.split(" "))) for p in ordered) + ")"


# The shapes of the pieces. {clock_words} and the like are the alternatives of that list or table in
# time.toml (with _ for .); _patterns builds the rest.
_SHAPES: tuple[tuple[str, _Reader], ...] = (
    (
        r"{relative_words}\s+(?P<amount>{relative_amounts}|\d{{1,3}}|{numbers})"
        r"(?:\s+(?P<half1>{relative_and_half}))?\s+(?P<unit>{relative_units})(?:\s+(?P<half2>{relative_and_half}))?(?!\w)",
        _read_relative,
    ),
    (r"{days}(?!\w)", _read_day),
    (r"(?:(?P<next>{weekdays_next})\s+|{weekdays_on}\s+)?(?P<weekday>{weekdays})(?!\w)", _read_day),
    (r"{before}{day}\s*(?:{months_of}\s+)?{month}{year}", _read_day),
    (r"(?:{weekdays_on}\s+)?(?P<holiday>{holidays})(?!\w)", _read_day),
    (r"(?P<part>{parts})(?!\w)", _read_day),
    (
        r"{lead}(?:(?P<name>{clock_named})|(?P<hour>\d{{1,2}}|{numbers})"
        r"(?:(?:\s*[.:,]\s*|\s+)(?P<minute>[0-5]\d|{minute_numbers}))?(?!\d)){tail}",
        _read_hour,
    ),
    (
        r"{lead}(?:(?P<amount>{clock_amounts}|\d{{1,2}}|{numbers})(?:\s+(?P<unit>{clock_minute_words}))?"
        r"\s+(?P<way>{clock_past}|{clock_to})\s+(?:(?P<half>{clock_half_before})\s+)?"
        r"|(?P<half2>{clock_half_before})\s+)(?P<hour>\d{{1,2}}|{numbers}){tail}",
        _read_relational,
    ),
)
_MONTH_FIRST: tuple[str, _Reader] = (r"{before}{month}\s*{day}{year}(?!\w)", _read_day)


def _patterns(words: TimeWords, month_first: bool) -> tuple[tuple[re.Pattern[str], _Reader], ...]:
    found = {
        key.replace(".", "_"): _alt(table) for key, table in (*words.lists.items(), *words.tables.items())
    }
    found["minute_numbers"] = _alt(
        word for word, value in words.tables["numbers"].items() if 10 <= value < 60
    )
    found["parts"] = _alt(words.parts)
    found["before"] = rf"(?:{found['months_before']}\s*)?"
    found["day"] = (
        rf"(?P<day>3[01]|[12]\d|0?[1-9]|{found['ordinals']})(?!\d)(?:{found['months_day_endings']})?"
    )
    found["month"] = rf"(?P<month>{found['months']})(?!\w)\.?"
    found["year"] = r"(?:\s*,?\s*(?P<year>\d{4})(?!\d))?"
    found["lead"] = rf"(?:(?P<lead>{found['clock_words']})\.?\s*)?"
    ampm, ending = _alt(words.lists["clock.am"] + words.lists["clock.pm"]), found["clock_endings"]
    found["tail"] = rf"(?:\s*(?P<ampm>{ampm}))?(?:\s*(?P<ending>{ending}))?(?!\w)"
    shapes = (*_SHAPES, _MONTH_FIRST) if month_first else _SHAPES
    return tuple(
        (re.compile(r"(?<!\w)" + shape.format(**found), re.IGNORECASE), read) for shape, read in shapes
    )
