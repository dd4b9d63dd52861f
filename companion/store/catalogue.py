"""The group catalogue in the database: seeded from dialogs/<lang>/catalogue.toml, read by the device and
the web page. Importing a group's iCalendar file is companion/store/ics.py (kept apart: the icalendar
library is only loaded by the command that imports)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, func, insert, select, update

from companion.mind.catalogue import Catalogue, Group, GroupFormat
from companion.store.database import store_errors, utc_now, writing
from companion.store.schema import groups

FORMATS: tuple[GroupFormat, ...] = ("physical", "online", "phone")
_IMPORT_FIX = "Correct the event in the calendar, export it again and import the whole file."
_DANISH_LETTERS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
ID_LENGTH = 64


def slug_of(text: str) -> str:
    """Words as an id: "Læsegruppen på Nørrebro" → "laesegruppen-paa-noerrebro" (may be empty or long)."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_DANISH_LETTERS))
    return re.sub(r"[^a-z0-9]+", "-", plain.encode("ascii", "ignore").decode()).strip("-")


# -- rows and groups ---------------------------------------------------------------------------------


def _row(group: Group, language: str, source: str) -> dict[str, Any]:
    """A group as the `groups` columns, except `updated_utc`."""
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "interests": "\n".join(group.interests),
        "format": group.format,
        "place": group.place,
        "rrule": group.rrule,
        "first_day": group.first_day.isoformat() if group.first_day else None,
        "start": group.start.strftime("%H:%M"),
        "minutes": group.minutes,
        "contact": group.contact,
        "kind": group.kind,
        "skills": "\n".join(group.skills),
        "language": language,
        "source": source,
        "retired": False,
    }


def _group(row: RowMapping) -> Group:
    def words(text: str) -> tuple[str, ...]:
        return tuple(word for word in text.split("\n") if word)

    return Group(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        interests=words(row["interests"]),
        format=row["format"],
        place=row["place"],
        rrule=row["rrule"],
        start=time.fromisoformat(row["start"]),
        minutes=row["minutes"],
        contact=row["contact"],
        kind=row["kind"],
        skills=words(row["skills"]),
        first_day=date.fromisoformat(row["first_day"]) if row["first_day"] else None,
    )


def seed_catalogue(engine: Engine, catalogue: Catalogue, language: str) -> int:
    """Bring the shipped groups into the database; returns how many rows changed (0 when up to date).

    A shipped row follows the file: changed when the file changed, retired when its group left the file.
    Rows a coordinator imported or edited (source `ics`, `coordinator`) are theirs, never overwritten.
    """
    changed = 0
    shipped = {group.id for group in catalogue.groups}
    with writing(engine) as connection:
        existing = {row.id: row._mapping for row in connection.execute(select(groups))}
        for group in catalogue.groups:
            wanted = _row(group, language, "shipped")
            old = existing.get(group.id)
            if old is None:
                connection.execute(insert(groups).values(**wanted, updated_utc=utc_now()))
            elif old["source"] == "shipped" and any(old[key] != value for key, value in wanted.items()):
                _update(connection, group.id, {**wanted, "updated_utc": utc_now()})
            else:
                continue
            changed += 1
        for old in existing.values():
            gone = old["id"] not in shipped and not old["retired"]
            if gone and old["source"] == "shipped" and old["language"] == language:
                _update(connection, old["id"], {"retired": True, "updated_utc": utc_now()})
                changed += 1
    return changed


def groups_on_offer(engine: Engine, language: str) -> list[tuple[Group, str]]:
    """The groups on offer in `language`, by name, each with where it came from (its `source`)."""
    query = (
        select(groups)
        .where(groups.c.language == language, groups.c.retired.is_(False))
        .order_by(groups.c.name, groups.c.id)
    )
    with engine.connect() as connection:
        return [(_group(row._mapping), row.source) for row in connection.execute(query)]


@store_errors("retire the group")
def retire_group(engine: Engine, group_id: str, now: datetime) -> bool:
    """The group is no longer offered (its row stays: reminders and suggestions may point at it)."""
    with writing(engine) as connection:
        changed = connection.execute(
            update(groups).where(groups.c.id == group_id).values(retired=True, updated_utc=now)
        ).rowcount
    return bool(changed)


def catalogue_language(engine: Engine) -> str:
    """The language the device's catalogue was seeded in (Danish on a fresh database)."""
    with engine.connect() as connection:
        found = connection.scalar(select(groups.c.language).where(groups.c.retired.is_(False)).limit(1))
    return str(found) if found else "da"


def find_group(engine: Engine, group_id: str) -> Group | None:
    """A group on offer by its id (None when there is none, or it was retired)."""
    query = select(groups).where(groups.c.id == group_id, groups.c.retired.is_(False))
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return _group(row._mapping) if row is not None else None


def new_group_id(engine: Engine, name: str) -> str:
    """An id for a new group from its name, unlike any group's before (retired ones too)."""
    base = slug_of(name)[: ID_LENGTH - 4].rstrip("-") or "group"
    with engine.connect() as connection:
        taken = set(connection.scalars(select(groups.c.id).where(groups.c.id.like(f"{base}%"))))
    return next(
        candidate
        for n in range(1, len(taken) + 2)
        if (candidate := base if n == 1 else f"{base}-{n}") not in taken
    )


@store_errors("save the group")
def save_group(engine: Engine, group: Group, language: str, now: datetime) -> None:
    """Add (in `language`) or change a group as a coordinator's own: offered again if it was retired, never
    overwritten by the shipped list (importing a changed group's calendar again takes the calendar's)."""
    values = {**_row(group, language, "coordinator"), "updated_utc": now}
    changed = {key: value for key, value in values.items() if key != "language"}  # a change keeps its own
    with writing(engine) as connection:
        if not _update(connection, group.id, changed):
            connection.execute(insert(groups).values(**values))


def load_catalogue_from_db(engine: Engine, language: str) -> tuple[Group, ...]:
    """The groups on offer in `language`, by name."""
    return tuple(group for group, _source in groups_on_offer(engine, language))


def _update(connection: Connection, group_id: str, values: Mapping[str, Any]) -> int:
    return connection.execute(update(groups).where(groups.c.id == group_id).values(**values)).rowcount


class CatalogueWatch:
    """A scheduler chore: when the groups in the database change — pulled from the hub, or edited on the
    coordinator's page by the web process — `on_change` gets the groups on offer, so the companion speaks of
    a new group without a restart."""

    def __init__(self, engine: Engine, language: str, on_change: Callable[[tuple[Group, ...]], None]) -> None:
        self.engine = engine
        self.language = language
        self.on_change = on_change
        self._seen = self._state()

    @store_errors("read the groups")
    def _state(self) -> tuple[object, ...]:
        query = select(func.count(), func.max(groups.c.updated_utc))
        with self.engine.connect() as connection:
            return tuple(connection.execute(query).one())

    def __call__(self, _now: datetime) -> None:
        state = self._state()
        if state != self._seen:
            self.on_change(load_catalogue_from_db(self.engine, self.language))
            self._seen = state
