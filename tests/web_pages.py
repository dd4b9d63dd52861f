"""Filling in the web page's forms through FastAPI's TestClient, as a relative's browser would."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from companion.settings import UsageSettings
from companion.store.database import Database, writing
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.web.accounts import Account, create_account
from companion.web.app import create_app


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def pair(client: TestClient, code: str, email: str, name: str = "Anne") -> str:
    """Pair and sign in; returns the page the browser ends on."""
    token = csrf_of(client.get("/pair").text)
    fields = {"code": code, "name": name, "email": email, "password": "korrekt hest batteri", "csrf": token}
    return client.post("/pair", data=fields).text


def add_reminder(client: TestClient, **fields: str | list[str]) -> str:
    token = csrf_of(client.get("/reminders/new").text)
    return client.post("/reminders/new", data={"csrf": token, **fields}).text


PASSWORD = "korrekt hest batteri"


def add_account(
    database: Database, role: str, email: str, now: datetime, name: str = "", language: str = "da"
) -> Account:
    """An account of `role` (coordinator, evaluator, or a relative of the device's household)."""
    with writing(database.engine) as connection:
        return create_account(
            connection,
            household_id=DEVICE_HOUSEHOLD if role == "relative" else None,
            role=role,
            name=name or role.title(),
            email=email,
            password=PASSWORD,
            language=language,
            now=now,
        )


def signed_in(
    database: Database, role: str, email: str, now: datetime, usage: UsageSettings | None = None
) -> TestClient:
    """A browser signed in to a new account of `role` (coordinator, evaluator), its clock stopped at `now`."""
    add_account(database, role, email, now)
    app = create_app(database, now=lambda: now, usage=usage)
    client = TestClient(app, headers={"accept-language": "da"})
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf": token})
    return client


def free_port() -> int:
    """A TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def login_answers(port: int, server: subprocess.Popen[Any], seconds: float = 60) -> int:
    """Ask a started `companion web`/`hub` for its login page until it answers: the HTTP status, or 0
    when the server ended or did not answer in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as page:
                return int(page.status)
        except OSError:
            time.sleep(0.2)
    return 0
