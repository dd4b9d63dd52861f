"""A private PostgreSQL server for the tests and the hub's benchmark: a cluster in a temporary folder,
reached over a unix socket there, started once and stopped at the end. Nothing is shared with a system
server.

Debian's `postgresql` package provides the programs (./install.sh --test installs it). PostgreSQL will
not run as root, so as root (as CI runs) the cluster belongs to the `postgres` user the package makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORT = 54329


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run ./install.sh --test (Debian's postgresql)")
    return found[-1].parent


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Server:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bin = _binaries()

    def create_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = "companion_" + uuid.uuid4().hex[:12]
        subprocess.run(
            _as_owner([str(self.bin / "createdb"), "-h", str(self.folder), "-p", str(PORT), name]),
            check=True,
            capture_output=True,
        )
        return f"postgresql+psycopg://postgres@/{name}?host={self.folder}&port={PORT}"


@contextmanager
def private_server(folder: Path, durable: bool = False) -> Iterator[Server]:
    """`durable`: fsync as a real server does (the benchmark); off, tests run faster."""
    server = Server(folder)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(
        _as_owner([str(server.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {folder} -p {PORT} -c listen_addresses=''" + ("" if durable else " -c fsync=off")
    subprocess.run(
        _as_owner(
            [
                str(server.bin / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield server
    finally:
        subprocess.run(
            _as_owner([str(server.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=True,
            capture_output=True,
        )
