"""Named instants in the `marks` table: how far the scheduler has recorded, when reminders were last
tallied for usage, whether the consent question waits, when the loneliness questions were last offered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from companion.store.schema import marks


def read_mark(connection: Connection, name: str) -> datetime | None:
    return connection.scalar(select(marks.c.value_utc).where(marks.c.name == name))


def set_mark(connection: Connection, name: str, value_utc: datetime) -> None:
    """Set (or make) the mark, in the caller's write transaction."""
    if not connection.execute(update(marks).where(marks.c.name == name).values(value_utc=value_utc)).rowcount:
        connection.execute(insert(marks).values(name=name, value_utc=value_utc))


def clear_mark(connection: Connection, name: str) -> None:
    connection.execute(delete(marks).where(marks.c.name == name))
