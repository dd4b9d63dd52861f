"""The shared database: schema, migrations, opening and snapshots (SQLite on the device)."""
