"""Filling in the web page's forms through FastAPI's TestClient, as a relative's browser would."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


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
