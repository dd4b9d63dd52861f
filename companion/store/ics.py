"""Importing a group's iCalendar (.ics) file into the catalogue.

Every rule is kept in Copenhagen wall time, like the shipped catalogue: a group that meets at 14:00 meets at
14:00 in summer and winter, so a DTSTART, RDATE or EXDATE written in UTC or another zone is turned into the
Copenhagen wall time it names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Event, vRecur
from sqlalchemy import Column, Engine, String, insert

from companion.errors import SettingsError
from companion.mind.catalogue import COPENHAGEN, Group, GroupFormat
from companion.store.catalogue import FORMATS, ID_LENGTH, _row, _update, slug_of
from companion.store.database import utc_now, writing
from companion.store.schema import groups

_IMPORT_FIX = "Correct the event in the calendar, export it again and import the whole file."
# -- iCalendar import --------------------------------------------------------------------------------


def group_id_of(uid: str) -> str:
    """A stable group id from an event's UID: the same UID updates the same row on every import."""
    slug = slug_of(uid)
    if 0 < len(slug) <= ID_LENGTH:
        return slug
    # Long UIDs (Outlook's are 100+ characters) differ at the end, so a cut alone could join two groups.
    digest = hashlib.sha256(uid.encode()).hexdigest()[:10]
    return f"{slug[:53].rstrip('-')}-{digest}".lstrip("-")


def _wall(moment: datetime) -> datetime:
    """A date-time of the file as a naive Copenhagen wall time (a floating time is one already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(COPENHAGEN).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)


def _session(value: date, start: time) -> datetime:
    """An RDATE's session: its own time, or the group's start on a date without one."""
    return _wall(value) if isinstance(value, datetime) else datetime.combine(value, start)


def _cancelled(value: date, start: time) -> datetime:
    """An EXDATE as the group's session that day, so a cancellation written in UTC by a calendar that
    recurs in UTC still meets the wall-time session it means."""
    day = _wall(value).date() if isinstance(value, datetime) else value
    return datetime.combine(day, start)


def _stamps(name: str, sessions: set[datetime]) -> list[str]:
    return [f"{name}:" + ",".join(s.strftime("%Y%m%dT%H%M%S") for s in sorted(sessions))] if sessions else []


def _recurrence(event: Event, first: datetime, changes: Sequence[Event]) -> str:
    lines = []
    for recur in event.rrules:
        frequency = str(recur.get("FREQ", [""])[0]).upper()
        # A group meets at most daily; finer rules also make a rule that never matches search for minutes.
        if frequency in ("HOURLY", "MINUTELY", "SECONDLY"):
            raise ValueError(f"it repeats every {frequency.lower()[:-2]}, far too often for a group")
        wall_recur = vRecur(recur)
        if "UNTIL" in wall_recur:
            # A naive start cannot be compared with a UTC UNTIL; a date UNTIL includes its whole day.
            wall_recur["UNTIL"] = [
                _wall(u) if isinstance(u, datetime) else datetime.combine(u, time(23, 59))
                for u in wall_recur["UNTIL"]
            ]
        lines.append("RRULE:" + _recur_text(wall_recur).decode())
    extra = {_session(day, first.time()) for day, _end in event.rdates}
    if not lines:
        extra.add(first)
    skipped = {_cancelled(day, first.time()) for day in event.exdates}
    for change in changes:  # one session moved or cancelled: a VEVENT with the series' UID and RECURRENCE-ID
        if change.RECURRENCE_ID is not None:
            skipped.add(_cancelled(change.RECURRENCE_ID, first.time()))
        if str(change.status).upper() != "CANCELLED" and change.DTSTART is not None:
            extra.add(_session(change.DTSTART, first.time()))
    return "\n".join(lines + _stamps("RDATE", extra) + _stamps("EXDATE", skipped))


def _minutes(event: Event, first: datetime) -> int:
    duration, end = event.DURATION, event.DTEND
    if duration is not None:
        length = duration
    elif isinstance(end, datetime):
        length = _wall(end) - first
    else:
        length = timedelta(minutes=60)
    minutes = round(length.total_seconds() / 60)
    return minutes if minutes > 0 else 60


def _contact(event: Event) -> str:
    organizer = event.organizer
    if organizer is not None and organizer.params.get("CN"):
        return str(organizer.params["CN"])
    if event.contacts:
        return str(event.contacts[0])
    if organizer is not None:
        return str(organizer).removeprefix("mailto:").removeprefix("MAILTO:")
    return str(event.url or "")


def _event_group(
    event: Event,
    changes: Sequence[Event],
    remote_places: Mapping[str, str],
    interests: Sequence[str],
    format_: GroupFormat | None,
) -> Group:
    name = (event.summary or "").strip()
    uid = str(event.get("UID", "")).strip() or name
    if not name:
        raise ValueError("it has no SUMMARY, the group's name")
    start = event.DTSTART
    if start is None:
        raise ValueError("it has no DTSTART, so it is not known when it meets")
    if not isinstance(start, datetime):
        raise ValueError("it is an all-day event with no time of day; give it a start time")
    first = _wall(start)
    location = (event.location or "").strip()
    is_link = re.match(r"(https?|zoom|teams|webex)://", location, re.IGNORECASE) is not None
    group_format = format_ or ("online" if is_link else "physical")
    if group_format != "physical" and (is_link or not location):
        location = remote_places.get(group_format, "")  # a link read aloud helps no one
    if not location:
        raise ValueError("it has no LOCATION, so it is not known where the group meets")
    words = [word.strip().lower() for word in [*event.categories, *interests] if word.strip()]
    return Group(
        id=group_id_of(uid),
        name=_fit(name, groups.c.name),
        description=(event.description or "").strip() or name,
        interests=tuple(dict.fromkeys(words)),
        format=group_format,
        place=_fit(location, groups.c.place),
        rrule=_recurrence(event, first, changes),
        start=first.time(),
        minutes=_minutes(event, first),
        contact=_fit(_contact(event).strip() or location, groups.c.contact),
        first_day=first.date(),
    )


def _fit(text: str, column: Column[Any]) -> str:
    """Cut to the column's length, which PostgreSQL (the hub) enforces and SQLite does not."""
    length = column.type.length if isinstance(column.type, String) else None
    return text[:length] if length else text


def _recur_text(recur: vRecur) -> bytes:
    to_ical: Callable[[vRecur], bytes] = vRecur.to_ical  # the one untyped method icalendar has here
    return to_ical(recur)


def _events_of(data: bytes) -> list[Event]:
    try:
        return [part for part in Calendar.from_ical(data).walk("VEVENT") if isinstance(part, Event)]
    except ValueError as error:
        raise SettingsError(
            f"The file is not an iCalendar file that can be read: {error}.",
            "Export the group's calendar as an .ics file and import that.",
        ) from error


def import_ics(
    engine: Engine,
    data: bytes,
    language: str,
    *,
    remote_places: Mapping[str, str],
    interests: Sequence[str] = (),
    format_: str | None = None,
    now: datetime | None = None,
) -> list[Group]:
    """Import every event of an iCalendar file as a group (source `ics`), all or nothing.

    `remote_places` says, per format (online, phone), where such a group meets in the device's words
    (phrases `remote_place_online` / `remote_place_phone` in dialogs/<lang>/phrases.toml).

    An event whose STATUS is CANCELLED retires its group. Returns the groups on offer after the import.
    """
    if format_ is not None and format_ not in FORMATS:
        raise SettingsError(f"The format {format_!r} is not one of {', '.join(FORMATS)}.")
    chosen_format: GroupFormat | None = next((f for f in FORMATS if f == format_), None)
    now = now or datetime.now(COPENHAGEN)
    events = _events_of(data)
    series = [event for event in events if "RECURRENCE-ID" not in event]
    if not series:
        raise SettingsError("The file has no events (VEVENT) to import.", _IMPORT_FIX)
    imported: dict[str, tuple[Group, bool]] = {}
    for event in series:
        label = repr(str(event.get("SUMMARY", "")).strip() or str(event.get("UID", "without a name")))
        uid = event.get("UID")
        changes = [e for e in events if "RECURRENCE-ID" in e and uid is not None and e.get("UID") == uid]
        cancelled = str(event.status).upper() == "CANCELLED"
        try:
            group = _event_group(event, changes, remote_places, interests, chosen_format)
            if not cancelled:
                group.next_session(now)  # also reads the rule: a rule that cannot be read fails here
        except SettingsError as error:
            raise SettingsError(
                f"The event {label} has no session after today.",
                "Remove it from the calendar (or give it new dates), export it again and import the file.",
            ) from error
        except (ValueError, TypeError, KeyError) as error:
            raise SettingsError(f"The event {label} cannot be imported: {error}.", _IMPORT_FIX) from error
        if group.id in imported:
            raise SettingsError(f"The event {label} appears twice in the file (UID {uid}).", _IMPORT_FIX)
        imported[group.id] = (group, cancelled)
    with writing(engine) as connection:
        for group, cancelled in imported.values():
            values = {**_row(group, language, "ics"), "retired": cancelled, "updated_utc": utc_now()}
            if not _update(connection, group.id, values):
                connection.execute(insert(groups).values(**values))
    return [group for group, cancelled in imported.values() if not cancelled]
