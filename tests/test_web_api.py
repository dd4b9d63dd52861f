"""The JSON API and its OpenAPI document: the same operations as the pages, the same isolation between
households, refusals with a stable reason; and schemathesis throws generated requests at every operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from sqlalchemy import func, insert, select

from companion.store.database import Database
from companion.store.schema import DEVICE_HOUSEHOLD, households, reminders
from companion.web.app import create_app
from companion.web.pairing import new_code

from clocks import utc
from web_pages import PASSWORD, add_account, csrf_of

NOW = utc("2026-03-02T09:00")


@pytest.fixture
def database(any_database: Database) -> Database:
    return any_database  # SQLite (the device) and PostgreSQL (the hub)


def client_of(database: Database) -> TestClient:
    return TestClient(create_app(database, now=lambda: NOW))


def paired(
    client: TestClient, database: Database, email: str, household: int = DEVICE_HOUSEHOLD
) -> dict[str, str]:
    code = new_code(database.engine, household, NOW)
    body = {
        "code": code,
        "name": email.split("@")[0].title(),
        "email": email,
        "password": "korrekt hest batteri",
    }
    response = client.post("/api/pair", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def signed_in_as_coordinator(client: TestClient, database: Database) -> dict[str, str]:
    add_account(database, "coordinator", "lone@kommune.dk", NOW, name="Lone")
    response = client.post("/api/session", json={"email": "lone@kommune.dk", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_pair_make_list_and_delete_a_weekly_reminder(database: Database) -> None:
    client = client_of(database)
    anne = paired(client, database, "anne@example.dk")
    body = {
        "text": "Vand blomsterne",
        "starts_at": "2026-03-02T10:00",
        "repeat": "weekly",
        "weekdays": ["MO"],
    }
    made = client.post("/api/reminders", json=body, headers=anne)
    assert made.status_code == 201
    reminder = made.json()
    assert (reminder["asked_by_name"], reminder["rrule"], reminder["next_at"]) == (
        "Anne",
        "FREQ=WEEKLY;BYDAY=MO",
        "2026-03-02T10:00",
    )
    assert [r["id"] for r in client.get("/api/reminders", headers=anne).json()] == [reminder["id"]]
    changed = client.put(
        f"/api/reminders/{reminder['id']}",
        json={**body, "text": "Vand roserne", "repeat": "daily"},
        headers=anne,
    )
    assert changed.status_code == 200 and changed.json()["rrule"] == "FREQ=DAILY"
    assert client.delete(f"/api/reminders/{reminder['id']}", headers=anne).status_code == 204
    assert client.get("/api/reminders", headers=anne).json() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text": "Kaffe", "starts_at": "2026-03-01T10:00"}, "in_the_past"),
        ({"text": "Kaffe", "starts_at": "2026-02-30T10:00"}, "no_such_date"),
        ({"text": "Kaffe", "starts_at": "2026-03-29T02:30"}, "dst_gap"),
        ({"text": "x" * 5000, "starts_at": "2026-03-03T10:00"}, "too_long"),
        ({"text": "", "starts_at": "2026-03-03T10:00"}, "no_text"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_saved(
    database: Database, body: dict[str, str], reason: str
) -> None:
    client = client_of(database)
    anne = paired(client, database, "anne@example.dk")
    response = client.post("/api/reminders", json=body, headers=anne)
    assert response.status_code == 400 and response.json()["detail"]["reason"] == reason
    with database.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(reminders)) == 0


def test_households_are_isolated_through_the_api(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(insert(households).values(id=2, name="", created_utc=NOW))
    client = client_of(database)
    anne, bent = paired(client, database, "anne@example.dk"), paired(client, database, "bent@example.dk", 2)
    body = {"text": "Annes hemmelighed", "starts_at": "2026-03-03T10:00"}
    secret = client.post("/api/reminders", json=body, headers=anne).json()["id"]
    assert client.get(f"/api/reminders/{secret}", headers=bent).status_code == 404
    assert client.delete(f"/api/reminders/{secret}", headers=bent).status_code == 404
    assert client.get("/api/reminders", headers=bent).json() == []
    assert client.get("/api/reminders").status_code == 401


def test_the_openapi_document_survives_generated_requests(database: Database) -> None:
    app = create_app(database, now=lambda: NOW)
    relative = paired(TestClient(app), database, "anne@example.dk")
    coordinator = signed_in_as_coordinator(TestClient(app), database)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    checked = 0
    for operation in schema.get_all_operations():
        assert isinstance(operation, Ok), operation  # the document itself must be valid
        api_operation = operation.ok()

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=api_operation.as_strategy())
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            for token in (relative, coordinator):
                response = case.call(headers=token)
                assert response.status_code < 500, (case.method, case.path, response.text)

        no_server_error()
        checked += 1
    assert checked >= 14  # every operation of the API was exercised, by a relative and a coordinator


def test_a_coordinator_keeps_the_catalogue_and_a_relative_suggests_through_the_api(
    database: Database,
) -> None:
    from companion.mind.build import load_catalogue
    from companion.store.catalogue import seed_catalogue
    from companion.store.household import waiting_suggestions

    seed_catalogue(database.engine, load_catalogue(Path(__file__).parent.parent / "dialogs", "da"), "da")
    client = client_of(database)
    coordinator = signed_in_as_coordinator(client, database)
    relative = paired(client, database, "anne@example.dk")
    group = {
        "name": "Læsekreds på Østerbro",
        "place": "Østerbro Bibliotek",
        "interests": ["bøger"],
        "start": "14:00",
        "minutes": 90,
        "first_day": "2026-03-04",
        "repeat": "monthly",
        "weekdays": ["WE"],
        "weeks": ["1", "3"],
    }
    made = client.post("/api/groups", json=group, headers=coordinator)
    assert made.status_code == 201, made.text
    assert (made.json()["rrule"], made.json()["next_at"]) == (
        "FREQ=MONTHLY;BYDAY=1WE,3WE",
        "2026-03-04T14:00",
    )
    group_id = made.json()["id"]
    assert client.post("/api/groups", json=group, headers=relative).status_code == 403
    refused = client.put(f"/api/groups/{group_id}", json={**group, "weeks": []}, headers=coordinator)
    assert refused.status_code == 400 and refused.json()["detail"] == {
        "reason": "no_weeks",
        "field": "schedule",
    }

    listed = client.get("/api/groups", headers=relative).json()
    assert group_id in [g["id"] for g in listed] and len(listed) > 10
    assert client.post(f"/api/groups/{group_id}/suggest", headers=relative).status_code == 204
    assert client.post(f"/api/groups/{group_id}/suggest", headers=coordinator).status_code == 403
    assert [s.group_id for s in waiting_suggestions(database.engine, DEVICE_HOUSEHOLD)] == [group_id]

    assert client.delete(f"/api/groups/{group_id}", headers=coordinator).status_code == 204
    assert client.post(f"/api/groups/{group_id}/suggest", headers=relative).status_code == 404
    assert client.get("/api/device", headers=coordinator).json()["detail"]["reason"] == "not_reported"
    code = client.post("/api/pairing-code", headers=coordinator)
    assert code.status_code == 201 and len(code.json()["code"]) == 8
    assert client.post("/api/pairing-code", headers=relative).status_code == 403


def test_half_a_character_is_refused_not_a_server_error(database: Database) -> None:
    client = client_of(database)
    anne = paired(client, database, "anne@example.dk")
    body = '{"text": "kaffe \\ud800", "starts_at": "2026-03-03T10:00"}'
    refused = client.post(
        "/api/reminders", content=body, headers={**anne, "content-type": "application/json"}
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "text"]
    assert "kaffe" not in refused.text  # what was sent is never echoed
    with database.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(reminders)) == 0


def test_text_the_database_cannot_hold_is_refused_as_unreadable_not_failed_on(database: Database) -> None:
    """PostgreSQL (the hub) refuses a NUL character in text: a sign-in with one is unreadable, not a 500."""
    client = client_of(database)
    answer = client.post("/api/session", json={"email": "\x00", "password": "korrekt hest batteri"})
    assert answer.status_code in (400, 422)
    page = client.get("/login").text
    form = client.post(
        "/login", data={"email": "a\x00b@example.dk", "password": "x" * 12, "csrf": csrf_of(page)}
    )
    assert form.status_code in (400, 401, 403) and "Traceback" not in form.text
