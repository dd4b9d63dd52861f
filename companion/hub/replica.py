"""A device's side of sync, in its own SQLite database: applying the hub's pages, and what to push.

A page and the version it brings the device to are written in one transaction, so a cut connection or a
crash resumes from the last page applied; a page applied twice changes nothing (rows are keyed by the
hub's ids, and a row older than the copy is skipped). Reminders the person made by voice are the device's
own (no `hub_id`): sync never touches them, and does not send them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from companion.errors import HubError
from companion.hub.changes import GROUP_FIELDS, OCCURRENCE_FIELDS, REMINDER_FIELDS
from companion.store.database import store_errors, writing
from companion.store.schema import (
    DEVICE_HOUSEHOLD,
    group_suggestions,
    groups,
    occurrences,
    reminders,
    sync_deletions,
    sync_state,
)

PULLED = "pulled_version"
REPLICA_OF = "replica_of"
PUSHED = "pushed_change"
HUB_SOURCE = "hub"
"""The `source` of a group copied from the hub: the shipped catalogue's seeding leaves it alone."""


def read_state(engine: Engine, name: str, default: str = "") -> str:
    with engine.connect() as connection:
        return _state(connection, name, default)


def _state(connection: Connection, name: str, default: str = "") -> str:
    found = connection.scalar(select(sync_state.c.value).where(sync_state.c.name == name))
    return str(found) if found is not None else default


def write_state(connection: Connection, name: str, value: str) -> None:
    if not connection.execute(
        update(sync_state).where(sync_state.c.name == name).values(value=value)
    ).rowcount:
        connection.execute(insert(sync_state).values(name=name, value=value))


def pulled_version(engine: Engine) -> int:
    return int(read_state(engine, PULLED, "0"))


def replica_of(page: Mapping[str, Any]) -> str:
    """Whose copy a page is of: the hub's epoch and the household (a device handed to another household,
    or a hub restored from a backup, is a different copy)."""
    return f"{page['epoch']}/{page['household']}"


def needs_fresh_copy(engine: Engine, page: Mapping[str, Any]) -> bool:
    held = read_state(engine, REPLICA_OF)
    return bool(page.get("reset")) or (held != "" and held != replica_of(page))


def apply_page(engine: Engine, page: Mapping[str, Any], now: datetime, fresh: bool = False) -> int:
    """Apply one page of the hub's changes; returns how many rows changed here. Refuses a page that does
    not follow on from this device's version (it would skip changes). `fresh`: the copy held so far is of
    another household or another hub's past, and is replaced by this page (from version 0) — in the same
    transaction, so a device is never left with no reminders if the connection is cut."""
    with writing(engine) as connection:
        if fresh:
            connection.execute(delete(reminders).where(reminders.c.hub_id.is_not(None)))
            connection.execute(delete(group_suggestions).where(group_suggestions.c.hub_id.is_not(None)))
            # Groups are not deleted (the person's own reminders and suggestions may name them): their
            # copies are marked as older than anything, so the new copy's rows replace them.
            connection.execute(update(groups).where(groups.c.source == HUB_SOURCE).values(version=None))
            write_state(connection, PULLED, "0")
        here = int(_state(connection, PULLED, "0"))
        if int(page["since"]) != here:
            raise HubError(
                f"The hub sent changes since version {page['since']}, but this device is at {here}."
            )
        write_state(connection, REPLICA_OF, replica_of(page))
        # Groups first (a reminder may point at one), then reminders and deletions in the order they were
        # made: a row deleted and made again in one page ends up made.
        changed = sum(_apply_group(connection, group, now) for group in page["groups"])
        in_order = sorted(
            [("reminder", item) for item in page["reminders"]]
            + [("suggestion", item) for item in page.get("suggestions", [])]
            + [("deleted", item) for item in page["deleted"]],
            key=lambda pair: int(pair[1]["version"]),
        )
        apply = {"reminder": _apply_reminder, "suggestion": _apply_suggestion, "deleted": _apply_deletion}
        for kind, item in in_order:
            changed += apply[kind](connection, item, now)
        write_state(connection, PULLED, str(max(here, int(page["up_to"]))))
    return changed


def _apply_deletion(connection: Connection, gone: Mapping[str, Any], _now: datetime) -> int:
    """A tombstone, unless the copy held is newer than it."""
    version = int(gone["version"])
    if gone["kind"] == "reminder":
        query = delete(reminders).where(reminders.c.hub_id == int(gone["id"]))
        return connection.execute(
            query.where(reminders.c.version.is_(None) | (reminders.c.version < version))
        ).rowcount
    if gone["kind"] == "suggestion":
        query = delete(group_suggestions).where(group_suggestions.c.hub_id == int(gone["id"]))
        return connection.execute(
            query.where(group_suggestions.c.version.is_(None) | (group_suggestions.c.version < version))
        ).rowcount
    if gone["kind"] == "group":
        query = delete(groups).where(groups.c.id == str(gone["id"]), groups.c.source == HUB_SOURCE)
        return connection.execute(
            query.where(groups.c.version.is_(None) | (groups.c.version < version))
        ).rowcount
    return 0


def _apply_group(connection: Connection, group: Mapping[str, Any], now: datetime) -> int:
    held = connection.execute(select(groups.c.version).where(groups.c.id == group["id"])).first()
    if held is not None and held.version is not None and held.version >= group["version"]:
        return 0  # this copy is as new already (a page again, or a group sent with a reminder)
    values = {name: group[name] for name in GROUP_FIELDS}
    values.update(version=group["version"], source=HUB_SOURCE, updated_utc=now)
    if held is None:
        connection.execute(insert(groups).values(id=group["id"], **values))
    else:
        connection.execute(update(groups).where(groups.c.id == group["id"]).values(**values))
    return 1


def _apply_suggestion(connection: Connection, suggestion: Mapping[str, Any], _now: datetime) -> int:
    """A relative's suggestion made on the hub; when the companion mentioned it stays the device's own."""
    held = connection.execute(
        select(group_suggestions.c.id, group_suggestions.c.version, group_suggestions.c.mentioned_utc).where(
            group_suggestions.c.hub_id == suggestion["id"]
        )
    ).first()
    if held is not None and held.version is not None and held.version >= suggestion["version"]:
        return 0
    on_hub = suggestion.get("mentioned_utc")
    values = {
        "group_id": suggestion["group_id"],
        "suggested_by": suggestion["suggested_by"],
        "created_utc": datetime.fromisoformat(suggestion["created_utc"]),
        "version": suggestion["version"],
        # Mentioned already — here, or (said the hub) by a device before this one — is never undone.
        "mentioned_utc": (held.mentioned_utc if held is not None else None)
        or (datetime.fromisoformat(on_hub) if on_hub else None),
    }
    if held is None:
        connection.execute(
            insert(group_suggestions).values(
                hub_id=suggestion["id"], household_id=DEVICE_HOUSEHOLD, account_id=None, **values
            )
        )
    else:
        connection.execute(
            update(group_suggestions).where(group_suggestions.c.id == held.id).values(**values)
        )
    return 1


def _apply_reminder(connection: Connection, reminder: Mapping[str, Any], now: datetime) -> int:
    held = connection.execute(
        select(reminders.c.id, reminders.c.version).where(reminders.c.hub_id == reminder["id"])
    ).first()
    if held is not None and held.version is not None and held.version >= reminder["version"]:
        return 0
    values = {name: reminder[name] for name in REMINDER_FIELDS}
    values["created_utc"] = datetime.fromisoformat(values["created_utc"])
    # The device's own time of the change: the scheduler and the page notice it by `updated_utc`, which
    # must move forward on this device's clock, whatever the hub's clock said.
    values.update(version=reminder["version"], updated_utc=now)
    if held is None:
        connection.execute(
            insert(reminders).values(
                hub_id=reminder["id"], household_id=DEVICE_HOUSEHOLD, created_by=None, **values
            )
        )
    else:
        connection.execute(update(reminders).where(reminders.c.id == held.id).values(**values))
    return 1


def changed_occurrences(engine: Engine, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """The states of occurrences of the hub's reminders changed since the last push, oldest change first,
    and the change counter a successful push of them brings the device to."""
    after = int(read_state(engine, PUSHED, "0"))
    query = (
        select(occurrences, reminders.c.hub_id)
        .join(reminders, reminders.c.id == occurrences.c.reminder_id)
        .where(occurrences.c.change > after)
        .order_by(occurrences.c.change)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    found = [
        {
            "reminder_id": row.hub_id,
            **{name: _text(getattr(row, name)) for name in OCCURRENCE_FIELDS},
            "change": row.change,
        }
        for row in rows
        if row.hub_id is not None
    ]
    return found, max((row.change for row in rows), default=after)


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@store_errors("note the hub sync's state")
def keep_state(engine: Engine, name: str, value: str) -> None:
    with writing(engine) as connection:
        write_state(connection, name, value)


OUTBOX_CHUNK = 500
"""Ids per request: the hub takes at most 2,000 at once."""


def outbox(engine: Engine, kind: str) -> tuple[list[int], int]:
    """What the person did here to the hub's rows and the hub is yet to hear — `reminder`: deleted by voice,
    `mentioned`: a relative's suggestion the companion has spoken of — at most OUTBOX_CHUNK, and the last
    entry's number (book.delete and household.mentioned write them in the same transaction as the change)."""
    query = (
        select(sync_deletions.c.version, sync_deletions.c.row_id)
        .where(sync_deletions.c.kind == kind)
        .order_by(sync_deletions.c.version)
        .limit(OUTBOX_CHUNK)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [int(row.row_id) for row in rows], max((int(row.version) for row in rows), default=0)


@store_errors("note what the hub was told")
def told(engine: Engine, kind: str, up_to: int) -> None:
    with writing(engine) as connection:
        connection.execute(
            delete(sync_deletions).where(sync_deletions.c.kind == kind, sync_deletions.c.version <= up_to)
        )
