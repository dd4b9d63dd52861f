"""The hub's side of sync: the changes a device pulls, and what it pushes (docs/hub-sync.md).

Every function takes the device already authenticated (devices.device_of) and touches only its household's
rows: a device of household A can neither read nor write anything of B.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from companion.hub.devices import Device
from companion.store.database import writing
from companion.store.health import Health, record
from companion.store.schema import (
    devices,
    fleet_weeks,
    group_suggestions,
    groups,
    occurrences,
    reminders,
    sync_deletions,
    sync_state,
)
from companion.usage.summary import check_summary

PAGE = 500
"""Rows of a page: enough for a household's whole history at once, small enough for a Pi's memory."""

REMINDER_FIELDS = (
    "text",
    "asked_by",
    "asked_by_name",
    "starts_at",
    "rrule",
    "group_id",
    "urgent",
    "created_utc",
)
GROUP_FIELDS = tuple(
    column.name for column in groups.c if column.name not in ("id", "version", "updated_utc", "source")
)
OCCURRENCE_FIELDS = ("due_at", "lead", "speak_utc", "state", "attempts", "last_attempt_utc")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def changes_since(engine: Engine, device: Device, since: int, limit: int = PAGE) -> dict[str, Any]:
    """The household's reminders, the catalogue and their deletions changed after version `since`, oldest
    first, at most `limit` — and every group those reminders point at, whatever its version, so a device
    never holds a reminder of a group it does not know.

    One snapshot (REPEATABLE READ) for the three reads; and as the triggers take versions under one lock
    held to commit, every version below one seen here is committed too: the device can go on from the
    page's last version without ever skipping a change."""
    household = device.household_id
    epoch = hub_epoch(engine)
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection,
        connection.begin(),
    ):
        # A device ahead of every version this hub has given: the hub's database was restored from an older
        # backup. The device must replace its copy, or it would wait for numbers already used again.
        newest = int(connection.scalar(text("SELECT last_value FROM sync_version")) or 0)
        found_reminders = _changed(connection, reminders, since, limit, reminders.c.household_id == household)
        found_groups = _changed(connection, groups, since, limit)  # the catalogue is every household's
        found_suggestions = _changed(
            connection, group_suggestions, since, limit, group_suggestions.c.household_id == household
        )
        deletions = _changed(
            connection,
            sync_deletions,
            since,
            limit,
            (sync_deletions.c.household_id == household) | sync_deletions.c.household_id.is_(None),
        )
        rows = sorted(
            [("reminder", r) for r in found_reminders]
            + [("group", g) for g in found_groups]
            + [("suggestion", g) for g in found_suggestions]
            + [("deleted", d) for d in deletions],
            key=lambda pair: int(pair[1].version),
        )
        # A source that filled its limit may have more beyond it, even when the merged page did not fill.
        sources = (found_reminders, found_groups, found_suggestions, deletions)
        page, more = rows[:limit], len(rows) > limit or any(len(found) == limit for found in sources)
        wanted = {r.group_id for kind, r in page if kind in ("reminder", "suggestion") and r.group_id}
        sent = {g.id for kind, g in page if kind == "group"}
        missing = wanted - sent
        extra = connection.execute(select(groups).where(groups.c.id.in_(missing))).all() if missing else []
    return {
        "household": household,
        "epoch": epoch,
        "reset": since > newest,
        "since": since,
        "up_to": int(page[-1][1].version) if page else since,
        "more": more,
        "groups": [_group(g) for kind, g in page if kind == "group"] + [_group(g) for g in extra],
        "reminders": [_reminder(r) for kind, r in page if kind == "reminder"],
        "suggestions": [_suggestion(g) for kind, g in page if kind == "suggestion"],
        "deleted": [
            {"kind": d.kind, "id": d.row_id, "version": int(d.version)}
            for kind, d in page
            if kind == "deleted"
        ],
    }


def _changed(connection: Connection, table: Table, since: int, limit: int, *where: Any) -> list[Any]:
    """The table's rows changed after version `since`, oldest first, at most `limit`."""
    query = select(table).where(table.c.version > since, *where).order_by(table.c.version).limit(limit)
    return list(connection.execute(query).all())


EPOCH = "epoch"


def hub_epoch(engine: Engine) -> str:
    """This hub's copy of the world: a random name, new when the hub is set up and whenever its database was
    restored from a backup (`companion devices resync`). A device that sees it change replaces its copy."""
    with engine.connect() as connection:
        found = connection.scalar(select(sync_state.c.value).where(sync_state.c.name == EPOCH))
    if found is None:  # the first device ever to ask: made once, whoever asks at the same moment
        with writing(engine) as connection:
            connection.execute(
                pg_insert(sync_state).values(name=EPOCH, value=secrets.token_hex(8)).on_conflict_do_nothing()
            )
            found = connection.scalar(select(sync_state.c.value).where(sync_state.c.name == EPOCH))
    return str(found)


def new_epoch(engine: Engine) -> str:
    with writing(engine) as connection:
        value = secrets.token_hex(8)
        connection.execute(
            pg_insert(sync_state)
            .values(name=EPOCH, value=value)
            .on_conflict_do_update(index_elements=["name"], set_={"value": value})
        )
    return value


def _reminder(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": int(row.version),
        **{name: _plain(getattr(row, name)) for name in REMINDER_FIELDS},
    }


def _suggestion(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": int(row.version),
        "group_id": row.group_id,
        "suggested_by": row.suggested_by,
        "created_utc": _plain(row.created_utc),
        # A device new to the household must not bring up again what an earlier one already spoke of.
        "mentioned_utc": _plain(row.mentioned_utc),
    }


def receive_mentioned(engine: Engine, device: Device, suggestion_ids: Sequence[int], now: datetime) -> int:
    """Suggestions the companion has mentioned in a conversation: no longer waiting, so the relative may
    suggest the same group again later."""
    if not suggestion_ids:
        return 0
    with writing(engine) as connection:
        return int(
            connection.execute(
                update(group_suggestions)
                .where(
                    group_suggestions.c.id.in_(list(suggestion_ids)),
                    group_suggestions.c.household_id == device.household_id,
                    group_suggestions.c.mentioned_utc.is_(None),
                )
                .values(mentioned_utc=now)
            ).rowcount
        )


def _group(row: Any) -> dict[str, Any]:
    return {"id": row.id, "version": int(row.version), **{name: getattr(row, name) for name in GROUP_FIELDS}}


def receive_occurrences(
    engine: Engine, device: Device, items: Sequence[Mapping[str, Any]], now: datetime
) -> int:
    """Upsert the device's occurrence states; returns how many were new or newer. Keyed by (reminder, due
    time, lead) and kept only when the device's change counter is higher than the one held: a push sent twice,
    or overtaken by a later one, changes nothing. Occurrences of reminders not of this device's household
    (or deleted on the hub since) are ignored."""
    if not items:
        return 0
    with writing(engine) as connection:
        asked = {int(item["reminder_id"]) for item in items}
        own = set(
            connection.scalars(
                select(reminders.c.id).where(
                    reminders.c.id.in_(asked), reminders.c.household_id == device.household_id
                )
            )
        )
        taken = 0
        for item in items:
            if int(item["reminder_id"]) not in own:
                continue
            values = {
                "reminder_id": int(item["reminder_id"]),
                **{name: _instant(name, item[name]) for name in OCCURRENCE_FIELDS},
                "change": int(item["change"]),
                "updated_utc": now,
            }
            statement = pg_insert(occurrences).values(**values)
            statement = statement.on_conflict_do_update(
                constraint="uq_occurrences_once",
                set_={
                    name: statement.excluded[name] for name in (*OCCURRENCE_FIELDS, "change", "updated_utc")
                },
                where=occurrences.c.change.is_(None) | (occurrences.c.change < statement.excluded.change),
            )
            # RETURNING, not rowcount: a row the WHERE kept as it was returns nothing.
            taken += len(connection.execute(statement.returning(occurrences.c.id)).all())
    return taken


def _instant(name: str, value: Any) -> Any:
    """Instants as the columns hold them: naive UTC."""
    if isinstance(value, str) and name.endswith("_utc"):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def receive_health(engine: Engine, device: Device, health: Mapping[str, Any]) -> None:
    """The device's last health, under its number on the hub (for coordinators: `companion devices list`)."""
    record(
        engine,
        Health(
            last_seen_utc=_instant("last_seen_utc", health["last_seen_utc"]),
            microphone_ok=bool(health["microphone_ok"]),
            models_ok=bool(health["models_ok"]),
            problem=str(health["problem"])[:300],
        ),
        device=health_key(device.id),
    )


def health_key(device_id: int) -> str:
    return f"hub-device-{device_id}"


def receive_summary(engine: Engine, device: Device, summary: Mapping[str, Any], withdrawn: str) -> int:
    """A household's weekly counts, from its own device only: each device's counts go under one pseudonym,
    bound to it at its first summary, so no device can add counts under made-up names (and so make a small
    cell look large) or remove another household's. `withdrawn`: the device's pseudonym whose counts go,
    because the person said "du må ikke tælle mere" (or the device no longer counts); a new "ja" later
    binds the new pseudonym."""
    with writing(engine) as connection:
        bound = connection.scalar(select(devices.c.pseudonym).where(devices.c.id == device.id))
        if withdrawn and withdrawn == bound:
            connection.execute(delete(fleet_weeks).where(fleet_weeks.c.pseudonym == bound))
            bound = None
        pseudonym = str(summary["device"]) if summary.get("counted") else None
        taken = connection.scalar(
            select(devices.c.id).where(devices.c.pseudonym == pseudonym, devices.c.id != device.id)
        )
        if pseudonym is not None and taken is not None:
            return 0  # another device's: not this one's to add to
        if bound is not None and pseudonym is not None and pseudonym != bound:
            # A device set up afresh (a new "ja" without the old one withdrawn): its old counts go.
            connection.execute(delete(fleet_weeks).where(fleet_weeks.c.pseudonym == bound))
        connection.execute(update(devices).where(devices.c.id == device.id).values(pseudonym=pseudonym))
        return keep_counts(connection, summary) if pseudonym is not None else 0


def keep_counts(connection: Connection, summary: Mapping[str, Any]) -> int:
    """The summary's weeks, replacing the same weeks of the same pseudonym."""
    pseudonym = str(summary["device"])
    weeks = summary["weeks"]
    connection.execute(
        delete(fleet_weeks).where(fleet_weeks.c.pseudonym == pseudonym, fleet_weeks.c.week.in_(list(weeks)))
    )
    rows = [
        {"pseudonym": pseudonym, "week": week, "key": key, "count": count}
        for week, cells in weeks.items()
        for key, count in cells.items()
    ]
    if rows:
        connection.execute(insert(fleet_weeks), rows)
    return len(rows)


def receive_deletions(engine: Engine, device: Device, reminder_ids: Sequence[int]) -> int:
    """Reminders the person deleted on the device (by voice): deleted here too, if they are of its household
    (and still here). The relatives' page then no longer shows what the person asked to be rid of."""
    if not reminder_ids:
        return 0
    with writing(engine) as connection:
        return int(
            connection.execute(
                delete(reminders).where(
                    reminders.c.id.in_(list(reminder_ids)), reminders.c.household_id == device.household_id
                )
            ).rowcount
        )


SUMMARY_WEEKS_AT_MOST = 40
"""Eight weeks and the weeks of the quarters they reach into: a summary with more is not a device's."""


def summary_is_sound(summary: Any) -> bool:
    if not isinstance(summary, dict) or not check_summary(summary):
        return False
    if len(summary["weeks"]) > SUMMARY_WEEKS_AT_MOST:
        return False
    if not summary.get("counted"):
        return True
    pseudonym = summary.get("device")
    return isinstance(pseudonym, str) and 8 <= len(pseudonym) <= 32 and pseudonym.isalnum()


SEEN_EVERY = timedelta(seconds=30)


def mark_seen(engine: Engine, device: Device, now: datetime) -> None:
    """When the device last asked for changes (each sync begins so): for coordinators, `devices list`.
    Written at most every SEEN_EVERY, not at every request of a thousand devices."""
    with writing(engine) as connection:
        connection.execute(
            update(devices)
            .where(devices.c.id == device.id)
            .where(devices.c.last_sync_utc.is_(None) | (devices.c.last_sync_utc < now - SEEN_EVERY))
            .values(last_sync_utc=now)
        )
