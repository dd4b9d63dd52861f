"""`python -m companion.store.migrate_apart DATABASE`: bring a database file to the newest schema, then exit.

`companion web` migrates this way (Database(…, migrate_apart=True)): Alembic, once imported, keeps about
20 MB in a process, and the web process must stay small for as long as the device runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.exc import DatabaseError, OperationalError

from companion.errors import StoreError
from companion.store.database import MIGRATION_FAILED, migrate, sqlite_engine


def main(argv: list[str]) -> int:
    path = Path(argv[0])
    engine = sqlite_engine(path)
    try:
        migrate(engine)
    except StoreError as error:
        print(f"{error.message}\n{error.fix}", file=sys.stderr)
        return MIGRATION_FAILED
    except (OperationalError, DatabaseError) as error:
        print(
            f"Cannot prepare the database {path}: {error.orig}.\n"
            "Check that the data directory is writable and the disk is not full.",
            file=sys.stderr,
        )
        return MIGRATION_FAILED
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
