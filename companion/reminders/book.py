"""The reminders in the database: made (checked first, saved whole or not at all), read, found, deleted.

Who may call it: the dialog (reminders made by voice), the web app (relatives, coordinators) and tests.
Every refusal is a `ReminderError` whose message says why in plain words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, insert, select, update

from companion.errors import ReminderError
from companion.reminders.recurrence import (
    MAX_TEXT,
    check_rule,
    expand,
    in_gap,
    instant,
    local,
    parse_wall,
    wall_text,
)
from companion.store.counters import note_for_hub
from companion.store.database import store_errors, utc_now, writing
from companion.store.schema import DEVICE_HOUSEHOLD, groups, occurrences, reminders

log = logging.getLogger(__name__)

Asker = Literal["person", "relative", "coordinator"]
History = list[tuple[datetime, str, str]]
"""A reminder's latest occurrences, newest first: (speak time in UTC, lead, state)."""


@dataclass(frozen=True)
class Reminder:
    id: int
    text: str
    asked_by: Asker
    asked_by_name: str
    starts_at: datetime
    """Naive wall time, Europe/Copenhagen."""
    rrule: str | None
    group_id: str | None
    urgent: bool
    created_utc: datetime
    household_id: int = DEVICE_HOUSEHOLD

    @classmethod
    def from_row(cls, row: Any) -> Reminder:
        return cls(
            id=row.id,
            text=row.text,
            asked_by=row.asked_by,
            asked_by_name=row.asked_by_name,
            starts_at=parse_wall(row.starts_at),
            rrule=row.rrule,
            group_id=row.group_id,
            urgent=bool(row.urgent),
            created_utc=row.created_utc,
            household_id=row.household_id,
        )

    def walls_on(self, day: date) -> list[datetime]:
        """This reminder's wall times on one day."""
        first = datetime.combine(day, datetime.min.time())
        following = first + timedelta(days=1)  # midnight belongs to the next day
        return [
            w for w in expand(self.rrule, self.starts_at).between(first, following, inc=True) if w < following
        ]


class ReminderBook:
    def __init__(self, engine: Engine, now_utc: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self._now = now_utc
        self.on_change: Callable[[], None] | None = None
        """Told after a reminder is saved or deleted (the device's scheduler: look again now)."""

    @store_errors("save the reminder")
    def create(
        self,
        text: str,
        at: datetime | str,
        *,
        rrule: str | None = None,
        asked_by: Asker = "person",
        asked_by_name: str = "",
        group_id: str | None = None,
        urgent: bool = False,
        household_id: int = DEVICE_HOUSEHOLD,
        created_by: int | None = None,
    ) -> Reminder:
        """Check everything first, then save in one transaction: a refused reminder leaves no trace."""
        wall = parse_wall(at) if isinstance(at, str) else at.replace(second=0, microsecond=0, tzinfo=None)
        text = " ".join(text.split())
        self._check(text, wall, rrule or None, asked_by, asked_by_name)
        now = self._now()
        values = {
            "text": text,
            "asked_by": asked_by,
            "asked_by_name": asked_by_name.strip(),
            "starts_at": wall_text(wall),
            "rrule": rrule.strip() if rrule else None,
            "group_id": group_id,
            "urgent": urgent,
            "created_utc": now,
            "updated_utc": now,
            "household_id": household_id,
            "created_by": created_by,
        }
        with writing(self.engine) as connection:
            if (
                group_id is not None
                and connection.scalar(select(groups.c.id).where(groups.c.id == group_id)) is None
            ):
                raise ReminderError(
                    f"There is no group '{group_id}' in the catalogue.", reason="unknown_group"
                )
            new_id = connection.execute(insert(reminders).values(**values)).inserted_primary_key
        assert new_id is not None
        reminder = self.get(int(new_id[0]))
        assert reminder is not None
        if self.on_change is not None:
            self.on_change()
        log.debug("reminder %s saved (%s, asked by %s)", reminder.id, values["starts_at"], asked_by)
        return reminder

    def _check(self, text: str, wall: datetime, rrule: str | None, asked_by: str, name: str) -> None:
        if not text:
            raise ReminderError("The reminder has no text: what should the companion say?", reason="no_text")
        if len(text) > MAX_TEXT:
            raise ReminderError(
                f"The reminder's text is {len(text):,} characters long; at most {MAX_TEXT} fit in one "
                "spoken reminder.",
                "Shorten it to a sentence or two.",
                reason="too_long",
            )
        if asked_by not in ("person", "relative", "coordinator"):
            raise ReminderError(f"'{asked_by}' is not person, relative or coordinator.")
        if asked_by != "person" and not name.strip():
            raise ReminderError(
                "A reminder from a relative or a coordinator needs their name, for attribution.",
                reason="no_name",
            )
        if len(name) > 100:
            raise ReminderError("The name is longer than 100 characters.", reason="no_name")
        if in_gap(wall):
            raise ReminderError(
                f"{wall_text(wall).replace('T', ' ')} does not exist: the clocks jump an hour forward that "
                "night.",
                "Choose a time before 02:00 or from 03:00.",
                reason="dst_gap",
            )
        now_wall = local(self._now())
        if rrule is None:
            if instant(wall) <= self._now():
                raise ReminderError(
                    f"{wall_text(wall).replace('T', ' ')} is in the past.",
                    "Choose a time that is still to come.",
                    reason="in_the_past",
                )
            return
        if wall.year > now_wall.year + 10:
            raise ReminderError("The reminder starts more than ten years from now.", reason="too_far")
        check_rule(rrule, wall, max(now_wall, wall))

    @store_errors("read a reminder")
    def get(self, reminder_id: int) -> Reminder | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(reminders).where(reminders.c.id == reminder_id)).first()
        return Reminder.from_row(row) if row is not None else None

    @store_errors("read the reminders")
    def all(self, household_id: int | None = None) -> list[Reminder]:
        """Every reminder, or one household's."""
        query = select(reminders).order_by(reminders.c.starts_at, reminders.c.id)
        if household_id is not None:
            query = query.where(reminders.c.household_id == household_id)
        with self.engine.connect() as connection:
            return [Reminder.from_row(row) for row in connection.execute(query)]

    @store_errors("read the reminders' history")
    def histories(self, reminder_ids: Sequence[int], limit: int = 5) -> dict[int, History]:
        """(speak time in UTC, lead, state) of each reminder's latest occurrences, newest first — in one
        query for a whole page of reminders."""
        newest = (
            func.row_number()
            .over(partition_by=occurrences.c.reminder_id, order_by=occurrences.c.speak_utc.desc())
            .label("newest")
        )
        ranked = (
            select(
                occurrences.c.reminder_id,
                occurrences.c.speak_utc,
                occurrences.c.lead,
                occurrences.c.state,
                newest,
            )
            .where(occurrences.c.reminder_id.in_(list(reminder_ids)))
            .subquery()
        )
        query = select(ranked).where(ranked.c.newest <= limit).order_by(ranked.c.reminder_id, ranked.c.newest)
        found: dict[int, History] = {rid: [] for rid in reminder_ids}
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                found[row.reminder_id].append((row.speak_utc, row.lead, row.state))
        return found

    @store_errors("change the reminder")
    def update(self, reminder_id: int, text: str, at: datetime | str, rrule: str | None) -> Reminder | None:
        """New words, time or repetition for a reminder (checked as a new one would be); None if it is gone.

        Its `created_utc` moves to now: the scheduler counts the changed reminder from its change, so a
        time moved into the past is not suddenly caught up on or marked missed. What it already said stays
        in its history."""
        reminder = self.get(reminder_id)
        if reminder is None:
            return None
        wall = parse_wall(at) if isinstance(at, str) else at.replace(second=0, microsecond=0, tzinfo=None)
        text = " ".join(text.split())
        self._check(text, wall, rrule or None, reminder.asked_by, reminder.asked_by_name)
        now = self._now()
        values = {
            "text": text,
            "starts_at": wall_text(wall),
            "rrule": rrule.strip() if rrule else None,
            "created_utc": now,
            "updated_utc": now,
        }
        with writing(self.engine) as connection:
            connection.execute(update(reminders).where(reminders.c.id == reminder_id).values(**values))
        if self.on_change is not None:
            self.on_change()
        return self.get(reminder_id)

    @store_errors("delete the reminder")
    def delete(self, reminder_id: int) -> bool:
        """Delete a reminder and its occurrences (their history goes with it). A copy of a hub's reminder is
        noted for the hub too (docs/hub-sync.md): the person's "slet den" holds for the relatives' page."""
        with writing(self.engine) as connection:
            hub_id = connection.scalar(select(reminders.c.hub_id).where(reminders.c.id == reminder_id))
            count = connection.execute(delete(reminders).where(reminders.c.id == reminder_id)).rowcount
            if count and hub_id is not None:  # only a device's copy has one
                note_for_hub(connection, "reminder", hub_id)
        if count and self.on_change is not None:
            self.on_change()
        return bool(count)

    def on_day(self, day: date) -> list[tuple[datetime, Reminder]]:
        """(wall time, reminder) for every occurrence on `day`, in time order."""
        found = [(wall, reminder) for reminder in self.all() for wall in reminder.walls_on(day)]
        return sorted(found, key=lambda pair: (pair[0], pair[1].id))

    def upcoming(self, now_wall: datetime) -> list[tuple[datetime, Reminder]]:
        """Each reminder's next wall time at or after now, soonest first (for finding one by its words)."""
        found = []
        for reminder in self.all():
            following = expand(reminder.rrule, reminder.starts_at).after(now_wall, inc=True)
            if following is not None:
                found.append((following, reminder))
        return sorted(found, key=lambda pair: (pair[0], pair[1].id))

    @store_errors("read the reminders")
    def household_state(self, household_id: int) -> tuple[object, ...]:
        """Changes whenever one of the household's reminders or their occurrences changes, by this process or
        another one (every change of either sets its `updated_utc`; counts catch deletions)."""
        query = (
            select(
                func.count(func.distinct(reminders.c.id)),
                func.max(reminders.c.id),
                func.max(reminders.c.updated_utc),
                func.count(occurrences.c.id),
                func.max(occurrences.c.updated_utc),
                func.sum(occurrences.c.attempts),
            )
            .select_from(reminders.outerjoin(occurrences, occurrences.c.reminder_id == reminders.c.id))
            .where(reminders.c.household_id == household_id)
        )
        with self.engine.connect() as connection:
            return tuple(connection.execute(query).one())

    @store_errors("read the reminders")
    def revision(self) -> tuple[int, int, datetime | None]:
        """Changes whenever a reminder is added, edited or deleted, by this process or another one."""
        query = select(func.count(), func.max(reminders.c.id), func.max(reminders.c.updated_utc))
        with self.engine.connect() as connection:
            count, last_id, last_change = connection.execute(query).one()
        return int(count), int(last_id or 0), last_change
