"""A hub as its own process on the private PostgreSQL server, and simulated devices that sync with it over
real HTTP(S): each device its own SQLite database, as on a Pi."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from companion.hub.client import HubLink, SyncReport, sync_once
from companion.hub.devices import add_device, add_household
from companion.reminders.ledger import Ledger
from companion.reminders.occurrence import Occurrence
from companion.reminders.recurrence import Due, local
from companion.store.database import Database, utc_now, writing
from companion.store.schema import occurrences, reminders
from companion.web.accounts import Account, create_account

from web_pages import PASSWORD, free_port


class HubProcess:
    """`companion hub` on PostgreSQL: started, stopped (or killed) and started again as a test needs."""

    def __init__(self, folder: Path, database_url: str, tls: bool = False) -> None:
        self.folder = folder
        self.database_url = database_url
        self.tls = tls
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.config = folder / "hub.toml"
        self.config.write_text(
            f'[general]\ndata_dir = "{folder / "hub-data"}"\n'
            f'[hub]\ndatabase_url = "{database_url}"\n'
            f'[web]\nhost = "127.0.0.1"\nport = {self.port}\ntls = {"true" if tls else "false"}\n'
        )
        self.env = {**os.environ, "COMPANION_CONFIG": str(self.config)}
        if tls:
            self.run_command("web", "--make-certificate")

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def certificate(self) -> Path:
        return self.folder / "hub-data" / "tls" / "cert.pem"

    def trust(self) -> ssl.SSLContext:
        """What trusts this hub's self-signed certificate (httpx's `verify`)."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def run_command(self, *args: str, given: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "companion.cli", *args],
            env=self.env,
            input=given,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "companion.cli", "hub"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        context = ssl.create_default_context(cafile=str(self.certificate)) if self.tls else None
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=2, context=context) as page:
                    assert page.status == 200
                    return
            except OSError:
                time.sleep(0.2)
        errors = self.process.stderr.read().decode() if self.process.stderr and self.process.poll() else ""
        raise AssertionError(f"the hub did not start: {errors}")

    def stop(self, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None


class SimulatedDevice:
    """A device's own database and its link to the hub, without the speech loop."""

    def __init__(self, folder: Path, hub_url: str, credential: str, ca_file: str = "") -> None:
        self.database = Database(folder).open()
        self.link = HubLink(hub_url, credential, ca_file, timeout_s=30)

    def sync(self, now: datetime | None = None) -> SyncReport:
        moment = now or utc_now()
        return sync_once(self.database.engine, self.link, lambda: moment, local(moment).date())

    def hub_reminders(self) -> dict[int, tuple[str, str, str | None]]:
        """The hub's reminders this device holds: hub id → (text, start, rule)."""
        query = select(reminders.c.hub_id, reminders.c.text, reminders.c.starts_at, reminders.c.rrule)
        with self.database.engine.connect() as connection:
            rows = connection.execute(query.where(reminders.c.hub_id.is_not(None))).all()
        return {row.hub_id: (row.text, row.starts_at, row.rrule) for row in rows}

    def occurrence_count(self) -> int:
        with self.database.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(occurrences)) or 0)

    def close(self) -> None:
        self.link.close()
        self.database.close()


def claimed(ledger: Ledger, reminder_id: int, wall: datetime | None = None) -> Occurrence:
    """An occurrence of the reminder (due now, or at `wall`) claimed for speaking, as the scheduler and the
    desk do it."""
    now = utc_now()
    due = wall or local(now).replace(tzinfo=None, second=0, microsecond=0)
    ledger.record([Due(reminder_id, due, "at", now)], [], now)
    pending = next(o for o in ledger.in_state("pending") if o.reminder_id == reminder_id)
    found = ledger.claim(pending, now)
    assert found is not None
    return found


def household_with_device(hub: Database, name: str) -> tuple[int, int, str]:
    """(household, device, credential) made on the hub."""
    household = add_household(hub.engine, name, utc_now())
    device, credential = add_device(hub.engine, household, f"{name}'s companion", utc_now())
    return household, device.id, credential


def relative_of(hub: Database, household: int, email: str, name: str = "Anne") -> Account:
    with writing(hub.engine) as connection:
        return create_account(
            connection,
            household_id=household,
            role="relative",
            name=name,
            email=email,
            password=PASSWORD,
            language="da",
            now=utc_now(),
        )
