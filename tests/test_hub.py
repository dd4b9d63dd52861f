"""`companion hub`: the same web page, for many households, on PostgreSQL (the first part of the hub)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from benchmarks.private_postgres import Server
from companion.store.database import Database

from web_pages import free_port, login_answers


def _env(tmp_path: Path, extra: str) -> dict[str, str]:
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path / "data"}"\n{extra}')
    return {**os.environ, "COMPANION_CONFIG": str(config)}


def test_the_hub_refuses_to_start_without_its_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "companion.cli", "hub"], env=_env(tmp_path, ""), capture_output=True, text=True
    )
    assert result.returncode == 1 and "[hub] database_url is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_hub_migrates_postgresql_and_serves_the_web_page(tmp_path: Path, postgres_server: Server) -> None:
    url = postgres_server.create_database()
    port = free_port()
    env = _env(tmp_path, f'[hub]\ndatabase_url = "{url}"\n[web]\nhost = "127.0.0.1"\nport = {port}\n')
    hub = subprocess.Popen(
        [sys.executable, "-m", "companion.cli", "hub"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        status = login_answers(port, hub)
        assert status == 200, hub.stderr.read() if hub.poll() is not None and hub.stderr else "no answer"
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=30)
    with Database(None, url=url) as database:  # the schema the device has, in PostgreSQL
        tables = set(inspect(database.engine).get_table_names())
    assert {"households", "reminders", "occurrences", "accounts", "usage_weeks", "alembic_version"} <= tables


def test_a_database_url_that_is_not_one_is_said_plainly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "companion.cli", "hub"],
        env=_env(tmp_path, '[hub]\ndatabase_url = "my database"\n'),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "is not a database address" in result.stderr
    assert "postgresql+psycopg:///companion" in result.stderr and "Traceback" not in result.stderr
