"""A device's bookkeeping for its hub: the counter of occurrence changes (SQLite triggers), so sync pushes
only what changed since its last push — made by migration 0006 in a device's file, and by Database.open in
a private RAM database; change those statements only together with a new migration — and the outbox of
what the person did to the hub's rows (docs/hub-sync.md).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from companion.store.schema import sync_deletions


def note_for_hub(connection: Connection, kind: str, hub_id: int) -> None:
    """In the same transaction as the change: `reminder` (the person deleted a hub reminder by voice) or
    `mentioned` (the companion spoke of a relative's suggestion), for the next sync to tell the hub."""
    last = connection.scalar(select(func.max(sync_deletions.c.version))) or 0
    connection.execute(
        insert(sync_deletions).values(version=last + 1, household_id=None, kind=kind, row_id=str(hub_id))
    )


# The counter lives in sync_state, never as max(change) + 1: a deleted occurrence must not let a later
# change take a number already pushed past.
_COUNT_CHANGE = (
    "UPDATE sync_state SET value = CAST(value AS INTEGER) + 1 WHERE name = 'occurrence_change'; "
    "UPDATE occurrences SET change = (SELECT CAST(value AS INTEGER) FROM sync_state "
    "WHERE name = 'occurrence_change') WHERE id = NEW.id"
)
OCCURRENCE_COUNTER = [
    # What the device said before it had a hub is sent too, at the first sync.
    "UPDATE occurrences SET change = id",
    "INSERT INTO sync_state (name, value) VALUES ('occurrence_change', "
    "(SELECT CAST(coalesce(max(id), 0) AS TEXT) FROM occurrences))",
    f"CREATE TRIGGER occurrences_counted_new AFTER INSERT ON occurrences BEGIN {_COUNT_CHANGE}; END",
    # Only the columns a change of state touches: the counter's own update must not fire it again.
    "CREATE TRIGGER occurrences_counted_change AFTER UPDATE OF state, attempts, last_attempt_utc, speak_utc "
    f"ON occurrences BEGIN {_COUNT_CHANGE}; END",
]
