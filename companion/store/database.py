"""Opening the device's database: one SQLite file in the data directory, checked, migrated and snapshotted.

SQLite is run for durability over speed: WAL (the web app reads while the daemon writes) with
`synchronous=FULL`, so a committed acknowledgement survives a power cut, not only a crash. Every write
goes through `writing()`, a `BEGIN IMMEDIATE` transaction: two processes never both start to write on a
stale snapshot and then fail with "database is locked" halfway; reads stay plain (deferred), so a reader
never holds up a writer. A damaged file is not patched: the newest snapshot that passes
`PRAGMA integrity_check` replaces it, and the event is recorded for `companion doctor`.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, insert, pool, select
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from companion.errors import StoreError
from companion.store.counters import OCCURRENCE_COUNTER
from companion.store.schema import DEVICE_HOUSEHOLD, device_events, households, metadata

log = logging.getLogger(__name__)

DATABASE_NAME = "companion.db"
SNAPSHOT_DIR = "snapshots"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 10.0
"""How long a writer waits for the other process's transaction before giving up with a StoreError."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def store_errors(action: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A database failure (a full disk, a file locked past the busy timeout) becomes a StoreError saying
    what could not be done — the error every caller (the scheduler's thread, the device loop) handles."""

    def wrap(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(method)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(*args, **kwargs)
            except (OperationalError, DatabaseError) as error:
                raise StoreError(
                    f"Could not {action}: {getattr(error, 'orig', error)}.",
                    "Check that the disk is not full; `companion doctor` checks the database.",
                ) from error

        return run

    return wrap


def utc_now() -> datetime:
    """Now as a naive UTC datetime: the form every `..._utc` column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Our own BEGIN (below) instead of the driver's, which would start transactions lazily and DEFERRED.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


_WRITE = "companion_write"


def _begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction, committed at the end (rolled back on an error): on SQLite it takes the write
    lock at once (waiting up to BUSY_TIMEOUT_S for the other process), on PostgreSQL it is a plain one."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


def sqlite_engine(path: Path | None) -> Engine:
    """An engine on the file `path`, or on a private in-memory database when `path` is None."""
    if path is None:
        engine = create_engine(
            "sqlite://", poolclass=pool.StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _begin)
    return engine


@dataclass(frozen=True)
class IntegrityReport:
    ok: bool
    detail: str


def check_integrity(path: Path) -> IntegrityReport:
    """`PRAGMA integrity_check` on a file, through the plain driver, before anything writes to it.

    Only a damaged file is reported as not ok. A file that cannot be checked right now (locked by another
    process for longer than the busy timeout, unreadable) raises StoreError: it is not damaged, and
    replacing it with a snapshot would throw away everything since.
    """
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        raise StoreError(
            f"Could not check the database {path}: {error}.",
            "Check that the data directory is readable; if another program holds the file, try again.",
        ) from error
    except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed"
        return IntegrityReport(False, str(error))
    detail = "; ".join(str(row[0]) for row in rows[:5])
    return IntegrityReport(detail == "ok", detail)


def _fsync(path: Path) -> None:
    """Flush a file (or a directory's entries, after a rename) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def newest_revision() -> str:
    """The newest migration's id, from the file names (versions/NNNN_*.py, each with revision = "NNNN")."""
    return max(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def at_newest_revision(path: Path) -> bool:
    """Whether the file is already migrated, asked without loading Alembic (about 35 MB and a quarter of a
    second, which the web process and every command would otherwise pay at each start)."""
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == newest_revision()


def _postgresql_engine(url: str) -> Engine:
    try:
        return create_engine(url, pool_pre_ping=True)
    except ImportError as error:
        raise StoreError(
            f"The hub's database driver is not installed ({error.name}).",
            "Install it with: .venv/bin/pip install -e '.[hub]'",
        ) from error
    except ArgumentError as error:
        raise StoreError(
            f"[hub] database_url is not a database address: {error}.",
            'Write it as "postgresql+psycopg:///companion" (user, host and port may come before the name).',
        ) from error


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creating it in an empty database)."""
    from alembic import command
    from alembic.config import Config

    # Alembic otherwise logs its plugins and "Context impl SQLiteImpl" at every start.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with writing(engine) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as error:
        raise StoreError(
            f"The database was made by a newer version of the companion ({error}).",
            "Install that version again, or restore a snapshot made before the update.",
        ) from error


MIGRATION_FAILED = 3
"""companion/store/migrate_apart.py's exit status when the migration failed; its stderr then holds the
message and, on the last line, the fix."""


def _migrate_apart(path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "companion.store.migrate_apart", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == MIGRATION_FAILED:
        message, _, fix = done.stderr.strip().rpartition("\n")
        raise StoreError(message, fix)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise StoreError(
            f"The database {path} could not be brought up to date ({last}).",
            "Run `companion doctor`; reinstall the program if it names a missing part.",
        )


def record_event(engine: Engine, kind: str, detail: str) -> None:
    with writing(engine) as connection:
        connection.execute(insert(device_events).values(at_utc=utc_now(), kind=kind, detail=detail))


def recent_events(engine: Engine, limit: int = 5) -> list[tuple[datetime, str, str]]:
    query = select(device_events).order_by(device_events.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        return [(row.at_utc, row.kind, row.detail) for row in connection.execute(query)]


class Database:
    """The data directory's database. `open()` checks, restores if needed and migrates; `close()` releases.

    `Database(None)` is a private RAM database on one shared connection, for scenarios and tests: use it
    from one thread at a time (a scheduler thread and a device loop need a file).
    """

    def __init__(
        self,
        directory: Path | None,
        snapshots_kept: int = 3,
        migrate_apart: bool = False,
        url: str | None = None,
    ) -> None:
        self.directory = directory
        self.migrate_apart = migrate_apart
        """Migrate in a child process (companion/store/migrate_apart.py): for long-running processes."""
        self.url = url
        """A PostgreSQL database (the hub's) instead of the data directory's SQLite file."""
        self.path = directory / DATABASE_NAME if directory is not None and url is None else None
        self.snapshots_kept = snapshots_kept
        # Creating an engine connects to nothing; the first connection comes after open()'s checks.
        self.engine = _postgresql_engine(url) if url else sqlite_engine(self.path)

    def open(self) -> Database:
        if self.url is not None:
            try:
                migrate(self.engine)  # PostgreSQL keeps its own backups: no snapshot, no restore here
            except (OperationalError, DatabaseError) as error:
                raise StoreError(
                    f"Cannot prepare the hub's database: {error.orig}.",
                    "Check [hub] database_url and that PostgreSQL runs.",
                ) from error
            return self
        if self.path is None:
            with writing(self.engine) as connection:
                metadata.create_all(connection)  # a private RAM database: the tests' and the scenarios'
                for statement in OCCURRENCE_COUNTER:  # what migration 0006 adds beyond the tables
                    connection.exec_driver_sql(statement)
                # What migration 0002 makes in a file: the household a device serves.
                connection.execute(
                    insert(households).values(id=DEVICE_HOUSEHOLD, name="", created_utc=utc_now())
                )
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"Cannot create the data directory {self.path.parent}: {error.strerror}.",
                "Check [general] data_dir in the settings.",
            ) from error
        restored = self._restore_if_damaged()
        try:
            if not at_newest_revision(self.path):
                _migrate_apart(self.path) if self.migrate_apart else migrate(self.engine)
        except (OperationalError, DatabaseError) as error:
            raise StoreError(
                f"Cannot prepare the database {self.path}: {error.orig}.",
                "Check that the data directory is writable and the disk is not full.",
            ) from error
        if restored:
            record_event(self.engine, *restored)
        return self

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- snapshots ---------------------------------------------------------------------------------

    @property
    def snapshot_dir(self) -> Path:
        assert self.directory is not None
        return self.directory / SNAPSHOT_DIR

    def snapshots(self) -> list[Path]:
        """Snapshots, newest first."""
        if self.directory is None or not self.snapshot_dir.is_dir():
            return []
        return sorted(self.snapshot_dir.glob("companion-*.db"), reverse=True)

    def snapshot(self, now_utc: datetime | None = None) -> Path | None:
        """Write a consistent copy (`VACUUM INTO`) and keep the newest few; None for a RAM database."""
        if self.directory is None or self.path is None:
            return None
        stamp = (now_utc or utc_now()).strftime("%Y%m%dT%H%M%S")
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        final = self.snapshot_dir / f"companion-{stamp}.db"
        partial = self.snapshot_dir / f".partial-{stamp}.db"
        partial.unlink(missing_ok=True)
        try:
            # The plain driver: VACUUM cannot run inside the transaction every engine connection begins.
            source = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            try:
                source.execute("VACUUM INTO ?", (str(partial),))
            finally:
                source.close()
            report = check_integrity(partial)
            if not report.ok:
                raise StoreError(f"The new snapshot {partial} failed its check: {report.detail}.")
            _fsync(partial)  # VACUUM INTO does not sync its output; the rotation below deletes older ones
            partial.replace(final)
            _fsync(self.snapshot_dir)
        except (sqlite3.Error, OSError) as error:
            partial.unlink(missing_ok=True)
            raise StoreError(
                f"Could not write a snapshot of the database: {error}.",
                "Check that the disk is not full.",
            ) from error
        for old in self.snapshots()[self.snapshots_kept :]:
            old.unlink(missing_ok=True)
        log.info("database snapshot written: %s", final)
        return final

    def _restore_if_damaged(self) -> tuple[str, str] | None:
        assert self.path is not None
        if not self.path.exists():
            return None
        report = check_integrity(self.path)
        if report.ok:
            return None
        stamp = utc_now().strftime("%Y%m%dT%H%M%S")
        damaged = self.path.with_name(f"companion-damaged-{stamp}.db")
        log.error("the database %s is damaged (%s); keeping it as %s", self.path, report.detail, damaged)
        self.path.replace(damaged)
        for suffix in ("-wal", "-shm"):  # they belong to the damaged file: kept with it, for whoever looks
            journal = Path(f"{self.path}{suffix}")
            if journal.exists():
                journal.replace(Path(f"{damaged}{suffix}"))
        for snapshot in self.snapshots():
            if check_integrity(snapshot).ok:
                shutil.copyfile(snapshot, self.path)
                _fsync(self.path)
                _fsync(self.path.parent)
                log.warning("the database was restored from the snapshot %s", snapshot.name)
                return (
                    "database_restored",
                    f"damaged ({report.detail}); restored from {snapshot.name}; damaged file kept as "
                    f"{damaged.name}",
                )
        log.error("no good snapshot to restore: starting an empty database")
        return ("database_replaced", f"damaged ({report.detail}); no good snapshot; kept as {damaged.name}")
