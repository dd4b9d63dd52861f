"""Alembic's entry point, run by companion.store.database.migrate() each time the database is opened, on
the connection it passes in (there is no alembic.ini: the companion is the only caller)."""

from __future__ import annotations

from alembic import context

from companion.store.schema import metadata

# SQLite cannot ALTER most things: batch mode rebuilds a table instead, the same on every engine.
context.configure(
    connection=context.config.attributes["connection"], target_metadata=metadata, render_as_batch=True
)
with context.begin_transaction():
    context.run_migrations()
