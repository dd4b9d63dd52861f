"""The database file: migrations that match the schema, the durability settings, nightly snapshots, and a
damaged file replaced by the newest good snapshot — recorded, and shown by `companion doctor`."""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import companion.store.database as database_module
from companion.doctor import check_database
from companion.errors import StoreError
from companion.reminders.book import ReminderBook
from companion.reminders.service import NightlySnapshot
from companion.settings import Settings
from companion.store.database import Database, check_integrity, migrate, recent_events
from companion.store.schema import metadata

from clocks import utc


def test_the_migrations_build_exactly_the_schema_in_code(tmp_path: Path) -> None:
    with Database(tmp_path) as database, database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() is not None
        assert compare_metadata(context, metadata) == []


def test_opening_again_migrates_nothing_and_keeps_the_data(tmp_path: Path) -> None:
    with Database(tmp_path) as database:
        ReminderBook(database.engine, lambda: utc("2026-03-02T09:00")).create("kaffe", "2026-03-03T10:00")
    with Database(tmp_path) as database:
        migrate(database.engine)
        assert [r.text for r in ReminderBook(database.engine).all()] == ["kaffe"]


def test_the_file_is_written_for_durability(tmp_path: Path) -> None:
    with Database(tmp_path) as database, database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_snapshots_are_checked_and_only_the_newest_few_kept(tmp_path: Path) -> None:
    with Database(tmp_path, snapshots_kept=2) as database:
        made = [database.snapshot(datetime(2026, 12, day, 2, 30)) for day in (1, 2, 3)]
        assert database.snapshots() == [made[2], made[1]]
        assert all(check_integrity(path).ok for path in database.snapshots())


def test_the_nightly_snapshot_is_made_once_a_night_after_its_time(tmp_path: Path) -> None:
    with Database(tmp_path) as database:
        nightly = NightlySnapshot(database, datetime(2026, 1, 1, 3, 30).time())
        nightly(utc("2026-12-03T03:00"))
        assert database.snapshots() == []
        nightly(utc("2026-12-03T03:31"))
        nightly(utc("2026-12-03T23:00"))
        assert len(database.snapshots()) == 1
        nightly(utc("2026-12-04T03:30"))
        assert len(database.snapshots()) == 2


def damage(path: Path) -> None:
    """Overwrite the middle of the file, as a failing SD card would."""
    data = bytearray(path.read_bytes())
    data[4096:12288] = b"\xde\xad" * 4096
    path.write_bytes(bytes(data))


def test_a_damaged_database_is_restored_from_the_newest_good_snapshot(tmp_path: Path) -> None:
    with Database(tmp_path) as database:
        book = ReminderBook(database.engine, lambda: utc("2026-03-02T09:00"))
        for day in range(3, 20):
            book.create(f"påmindelse {day}", f"2026-03-{day:02d}T10:00")
        database.snapshot()
        book.create("efter kopien", "2026-03-21T10:00")
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp_path / 'companion.db'}{suffix}").unlink(missing_ok=True)
    damage(tmp_path / "companion.db")
    assert not check_integrity(tmp_path / "companion.db").ok

    with Database(tmp_path) as database:
        texts = [r.text for r in ReminderBook(database.engine).all()]
        assert len(texts) == 17 and "efter kopien" not in texts
        (_at, kind, detail), *_ = recent_events(database.engine)
        assert kind == "database_restored" and "restored from companion-" in detail
    assert list(tmp_path.glob("companion-damaged-*.db"))  # kept for whoever looks into it

    out = io.StringIO()
    findings = check_database(Settings().with_data_dir(tmp_path))
    print(*[f.what for f in findings], sep="\n", file=out)
    assert "intact" in out.getvalue() and "database_restored" in out.getvalue()
    assert any(not f.ok and "database_restored" in f.what for f in findings)


def test_a_damaged_database_without_a_snapshot_starts_empty_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "companion.db").write_bytes(b"not a database at all" * 500)
    with Database(tmp_path) as database:
        assert ReminderBook(database.engine).all() == []
        assert recent_events(database.engine)[0][1] == "database_replaced"


def test_a_database_only_locked_is_not_mistaken_for_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_S", 0.2)
    with Database(tmp_path) as database:
        ReminderBook(database.engine, lambda: utc("2026-03-02T09:00")).create("kaffe", "2026-03-03T10:00")
        database.snapshot()
    other = sqlite3.connect(tmp_path / "companion.db", isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")  # another program holds the whole file, readers shut out too
    other.execute("DELETE FROM device_events")
    try:
        with pytest.raises(StoreError, match=r"Could not check the database .*locked"):
            Database(tmp_path).open()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not list(tmp_path.glob("companion-damaged-*"))
    with Database(tmp_path) as database:
        assert [r.text for r in ReminderBook(database.engine).all()] == ["kaffe"]
        assert recent_events(database.engine) == []


def test_a_reader_never_holds_up_a_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_S", 0.2)
    with Database(tmp_path) as web, Database(tmp_path) as daemon:
        now = lambda: utc("2026-03-02T09:00")  # noqa: E731
        with web.engine.connect() as reading:
            assert ReminderBook(web.engine, now).all() == []
            reading.exec_driver_sql("SELECT count(*) FROM reminders").scalar()  # a read transaction is open
            ReminderBook(daemon.engine, now).create("kaffe", "2026-03-03T10:00")  # and the writer goes on
        assert [r.text for r in ReminderBook(web.engine).all()] == ["kaffe"]


def test_a_database_from_a_newer_version_is_refused_in_plain_words(tmp_path: Path) -> None:
    with Database(tmp_path):
        pass
    with sqlite3.connect(tmp_path / "companion.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    with pytest.raises(StoreError, match="made by a newer version"):
        Database(tmp_path).open()


def test_the_newest_revision_is_known_without_alembic_and_matches_alembics_head(tmp_path: Path) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(database_module.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == database_module.newest_revision()
    with Database(tmp_path):
        pass
    assert database_module.at_newest_revision(tmp_path / "companion.db")


def test_a_long_running_process_migrates_apart_and_never_loads_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    opens = (
        "import sys; from pathlib import Path; from companion.store.database import Database\n"
        f"Database(Path({str(tmp_path)!r}), migrate_apart=True).open().close()\n"
        "print('alembic' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", opens], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
    assert database_module.at_newest_revision(tmp_path / "companion.db")
    with Database(tmp_path) as database, database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []

    # A migration that fails apart is told in the same plain words as one that fails in the process.
    with sqlite3.connect(tmp_path / "companion.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.close()
    with pytest.raises(StoreError, match="made by a newer version") as refused:
        Database(tmp_path, migrate_apart=True).open()
    assert "Install that version again" in refused.value.fix
