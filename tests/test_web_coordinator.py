"""The coordinator's catalogue page and the accounts command: roles see only their own pages."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from companion.cli import main
from companion.store.catalogue import groups_on_offer
from companion.store.database import Database
from companion.store.health import Heartbeat, latest
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.web.app import create_app
from companion.web.pairing import new_code

from clocks import utc
from web_pages import csrf_of, pair, signed_in

NOW = utc("2026-03-02T09:00")
DIALOGS = Path(__file__).parent.parent / "dialogs"
KNITTING = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:strik-valby@example.dk
SUMMARY:Strikkecafe i Valby
DESCRIPTION:Vi strikker og drikker kaffe.
LOCATION:Valby Kulturhus
DTSTART;TZID=Europe/Copenhagen:20260304T140000
DTEND;TZID=Europe/Copenhagen:20260304T160000
RRULE:FREQ=WEEKLY;BYDAY=WE
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def database(catalogue_database: Database) -> Database:
    return catalogue_database


def test_a_coordinator_imports_a_calendar_and_retires_a_group(database: Database) -> None:
    coordinator = signed_in(database, "coordinator", "lone@kommune.dk", NOW)
    page = coordinator.get("/").text
    assert "<h1>Gruppekatalog</h1>" in page
    shown = coordinator.post(
        "/catalogue/import",
        data={"csrf": csrf_of(page)},
        files={"calendar": ("strik.ics", KNITTING, "text/calendar")},
    ).text
    assert "Importeret: Strikkecafe i Valby" in shown
    group_id = re.findall(r'action="/catalogue/([\w-]+)/retire"', shown)[0]
    coordinator.post(f"/catalogue/{group_id}/retire", data={"csrf": csrf_of(shown)})
    names = [group.name for group, _source in groups_on_offer(database.engine, "da")]
    assert "Strikkecafe i Valby" in names and len(names) == 14  # 14 shipped + 1 imported − 1 retired
    broken = coordinator.post(
        "/catalogue/import",
        data={"csrf": csrf_of(shown)},
        files={"calendar": ("x.ics", b"BEGIN:VCALENDAR\nnot a calendar", "text/calendar")},
    )
    assert broken.status_code == 400 and "Intet blev importeret" in broken.text


def test_each_role_sees_only_its_own_pages(database: Database) -> None:
    coordinator = signed_in(database, "coordinator", "lone@kommune.dk", NOW)
    assert coordinator.get("/reminders").status_code == 403
    assert coordinator.get("/api/reminders").status_code == 401  # the API wants a bearer token
    evaluator = signed_in(database, "evaluator", "eva@uni.dk", NOW)
    assert "<h1>Brugsoversigter</h1>" in evaluator.get("/").text
    assert evaluator.get("/catalogue").status_code == 403
    relative = TestClient(create_app(database, now=lambda: NOW), headers={"accept-language": "da"})
    pair(relative, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    assert relative.get("/catalogue").status_code == 403
    token = csrf_of(relative.get("/reminders").text)
    assert relative.post("/catalogue/laesegruppe-valby/retire", data={"csrf": token}).status_code == 403


def test_the_accounts_command_makes_a_coordinator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path}"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("korrekt hest batteri\n"))
    role = ["--role", "coordinator", "--name", "Lone", "--email", "lone@kommune.dk"]
    assert main(["--config", str(config), "accounts", "add", *role]) == 0
    assert main(["--config", str(config), "accounts", "list"]) == 0
    assert "coordinator  Lone" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("kort\n"))
    assert main(["--config", str(config), "accounts", "add", *role]) == 1  # too short, and taken


def test_the_coordinator_sees_the_devices_health_from_its_heartbeat(database: Database) -> None:
    microphone = {"ok": True}
    beat = Heartbeat(
        database.engine, lambda: microphone["ok"], lambda: "" if microphone["ok"] else "unplugged"
    )
    coordinator = signed_in(database, "coordinator", "lone@kommune.dk", NOW)
    assert "Enheden har ikke meldt sig endnu" in coordinator.get("/catalogue").text
    beat(NOW - timedelta(minutes=3))
    page = coordinator.get("/catalogue").text
    assert "for 3 minutter siden" in page and "Mikrofon: virker" in page
    beat(NOW - timedelta(minutes=2))  # nothing new within five minutes: not written again
    written = latest(database.engine)
    assert written is not None and written.last_seen_utc == NOW - timedelta(minutes=3)
    microphone["ok"] = False
    beat(NOW - timedelta(minutes=1))  # a change is written at once
    page = coordinator.get("/catalogue").text
    assert "Mikrofon: mangler" in page and "Fejl: unplugged" in page


def test_a_coordinator_makes_a_code_for_a_relative_who_is_not_at_the_device(database: Database) -> None:
    from sqlalchemy import select

    from companion.store.schema import audit_log

    coordinator = signed_in(database, "coordinator", "lone@kommune.dk", NOW)
    page = coordinator.get("/catalogue").text
    assert coordinator.post("/catalogue/pairing-code").status_code == 403  # no form token
    shown = coordinator.post("/catalogue/pairing-code", data={"csrf": csrf_of(page)}).text
    found = re.search(r"Koden er (\d{4} \d{4})\. Den virker én gang, indtil klokken 09\.10\.", shown)
    assert found is not None
    with database.engine.connect() as connection:
        assert connection.scalar(select(audit_log.c.action)) == "pairing_code_made"

    relative = TestClient(create_app(database, now=lambda: NOW), headers={"accept-language": "da"})
    assert "<h1>Påmindelser</h1>" in pair(relative, found.group(1), "anne@example.dk")
    token = csrf_of(relative.get("/reminders").text)
    assert relative.post("/catalogue/pairing-code", data={"csrf": token}).status_code == 403


def test_the_coordinator_lets_the_device_ask_and_the_evaluator_sees_only_counts(database: Database) -> None:
    from companion.mind.consent import question_requested

    coordinator = signed_in(database, "coordinator", "lone@kommune.dk", NOW)
    page = coordinator.get("/catalogue").text
    assert "Personen er ikke blevet spurgt endnu" in page
    coordinator.post("/catalogue/ask-consent", data={"csrf": csrf_of(page)})
    assert question_requested(database.engine)
    assert "Apparatet spørger, når der næste gang bliver snakket" in coordinator.get("/catalogue").text

    evaluator = signed_in(database, "evaluator", "eva@uni.dk", NOW)
    shown = evaluator.get("/evaluation").text
    assert "Apparater med i optællingen: 0." in shown and shown.count("<svg") == 5
    assert "Ensomhedsscore pr. kvartal" in shown
    download = evaluator.get("/evaluation.csv")
    assert download.headers["content-type"].startswith("text/csv")
    assert download.text.startswith("period,measure,people,total,suppressed")
    assert coordinator.get("/evaluation.csv").status_code == 403
