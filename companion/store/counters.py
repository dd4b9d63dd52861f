"""A device's counter of occurrence changes (SQLite triggers), so sync pushes only what changed since its
last push. Made by migration 0006 in a device's file, and by Database.open in a private RAM database;
change these statements only together with a new migration.
"""

from __future__ import annotations

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
