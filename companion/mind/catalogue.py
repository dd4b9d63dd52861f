"""The group catalogue and the household's relatives: the people the companion can point toward.

The catalogue is content a coordinator keeps (dialogs/<lang>/catalogue.toml, or a scenario file's own
[[group]] list), or the database (companion/store/catalogue.py) with the same fields. Times are local wall
times in Europe/Copenhagen; recurrences are RFC 5545 lines (a bare RRULE, or RRULE/RDATE/EXDATE lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from companion.errors import SettingsError

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

GroupFormat = Literal["physical", "online", "phone"]
StepKind = Literal["group", "volunteer"]


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    description: str
    interests: tuple[str, ...]
    format: GroupFormat
    place: str
    rrule: str
    start: time
    minutes: int
    contact: str
    kind: StepKind = "group"
    skills: tuple[str, ...] = ()
    """Words for what a person could contribute there (a repair café wants craftsmen)."""
    first_day: date | None = None
    """The day the rule counts from. An every-other-week or COUNT rule needs it; None: counted from
    yesterday, which suits rules that name their days (every Thursday, the first Wednesday)."""

    def upcoming(self, now: datetime) -> datetime | None:
        """The next session, or None once a course's calendar has ended (an imported COUNT or UNTIL)."""
        try:
            return self.next_session(now)
        except SettingsError:
            return None

    def next_session(self, now: datetime) -> datetime:
        """The next start at or after `now` (aware, Copenhagen wall time); SettingsError if none is left.

        The rule is expanded in naive wall time, because a weekly group meets at 14:00 on both sides of a
        daylight-saving change; only the result is given its zone.
        """
        local_now = now.astimezone(COPENHAGEN).replace(tzinfo=None)
        first_day = self.first_day or local_now.date() - timedelta(days=1)
        rule = rules_of(self.rrule, datetime.combine(first_day, self.start))
        found = rule.after(local_now, inc=True)
        if found is None:
            raise SettingsError(f"The group {self.id!r} has no more sessions ({self.rrule}).")
        return found.replace(tzinfo=COPENHAGEN)


@lru_cache(maxsize=1024)
def rules_of(text: str, first: datetime) -> rruleset:
    """The sessions of recurrence `text` counted from the wall time `first`.

    A set even for one bare RRULE, so an imported calendar's RDATE and EXDATE lines count too.
    """
    rule = rrulestr(text, dtstart=first, forceset=True)
    assert isinstance(rule, rruleset)
    return rule


@dataclass(frozen=True)
class Relative:
    name: str
    relation: str


@dataclass(frozen=True)
class Catalogue:
    groups: tuple[Group, ...]
    relatives: tuple[Relative, ...] = ()

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where}: '{key}' must be a line of text.", "See dialogs/README.md.")
    return value.strip()


def _words(entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(word).strip() for word in entry.get(key, ()) if str(word).strip())


def parse_group(entry: Mapping[str, Any], where: str) -> Group:
    group_id = _text(entry, "id", where)
    where = f"{where}, group {group_id!r}"
    group_format = entry.get("format", "physical")
    kind = entry.get("kind", "group")
    if group_format not in ("physical", "online", "phone"):
        raise SettingsError(f"{where}: format {group_format!r} is not physical, online or phone.")
    if kind not in ("group", "volunteer"):
        raise SettingsError(f"{where}: kind {kind!r} is not group or volunteer.")
    raw_first_day = entry.get("first_day")
    try:
        start = time.fromisoformat(_text(entry, "start", where))
        # TOML gives an unquoted 2026-01-07 as a date already.
        first_day = date.fromisoformat(str(raw_first_day)) if raw_first_day is not None else None
        rules_of(_text(entry, "rrule", where), datetime(2026, 1, 1))
    except (ValueError, TypeError) as error:
        raise SettingsError(
            f"{where}: {error}", "Times are HH:MM, first_day YYYY-MM-DD; rrule as in RFC 5545."
        ) from error
    return Group(
        id=group_id,
        name=_text(entry, "name", where),
        description=_text(entry, "description", where),
        interests=_words(entry, "interests"),
        format=group_format,
        place=_text(entry, "place", where),
        rrule=_text(entry, "rrule", where),
        start=start,
        minutes=int(entry.get("minutes", 60)),
        contact=_text(entry, "contact", where),
        kind=kind,
        skills=_words(entry, "skills"),
        first_day=first_day,
    )


def parse_catalogue(raw: Mapping[str, Any], where: str) -> Catalogue:
    """Groups from [[group]] and relatives from [[relative]] of one TOML document."""
    groups: Sequence[Mapping[str, Any]] = raw.get("group", ())
    relatives: Sequence[Mapping[str, Any]] = raw.get("relative", ())
    return Catalogue(
        groups=tuple(parse_group(entry, where) for entry in groups),
        relatives=tuple(
            Relative(_text(entry, "name", where), str(entry.get("relation", "")).strip())
            for entry in relatives
        ),
    )
