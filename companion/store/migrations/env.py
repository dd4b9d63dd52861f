"""Alembic's entry point. The companion passes its own open connection (companion.store.database.migrate);
`alembic -x url=sqlite:///path upgrade head` works too, for a person migrating by hand."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from companion.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("Give the database: alembic -x url=sqlite:////var/lib/companion/companion.db …")
    with create_engine(url).begin() as own:
        # SQLite cannot ALTER most things: batch mode rebuilds a table instead, on every engine alike.
        context.configure(connection=own, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
