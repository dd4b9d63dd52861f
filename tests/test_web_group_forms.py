"""A coordinator adds and changes groups by form: schedules as a coordinator thinks of them, kept as the
rules the device reads; bad input explained next to its field with nothing saved; the group theirs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from companion.mind.build import load_catalogue
from companion.store.catalogue import find_group, seed_catalogue
from companion.store.database import Database
from companion.store.ics import import_ics
from companion.store.schema import DEVICE_HOUSEHOLD, groups
from companion.web.app import create_app
from companion.web.group_forms import GroupFields, rule_of, schedule_of
from companion.web.pairing import new_code

from clocks import utc
from web_pages import csrf_of, pair, signed_in

NOW = utc("2026-03-02T09:00")  # a Monday
DIALOGS = Path(__file__).parent.parent / "dialogs"
READING = {
    "name": "Læsekreds på Østerbro",
    "description": "Vi læser en bog om måneden og snakker om den over en kop kaffe.",
    "interests": "bøger\nlæsning",
    "format": "physical",
    "kind": "group",
    "place": "Østerbro Bibliotek, Dag Hammarskjölds Allé 19",
    "contact": "Birthe, 12 34 56 78",
    "first_day": "2026-03-04",
    "start": "14:00",
    "minutes": "90",
    "repeat": "weekly",
    "weekdays": ["WE"],
}

KNITTING_WITH_A_CANCELLED_SESSION = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:strik@example.dk
SUMMARY:Strikkecafe
LOCATION:Valby Kulturhus
DTSTART;TZID=Europe/Copenhagen:20260304T140000
DTEND;TZID=Europe/Copenhagen:20260304T160000
RRULE:FREQ=WEEKLY;BYDAY=WE
EXDATE;TZID=Europe/Copenhagen:20260311T140000
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def database(catalogue_database: Database) -> Database:
    return catalogue_database


@pytest.fixture
def coordinator(database: Database) -> TestClient:
    return signed_in(database, "coordinator", "lone@kommune.dk", NOW)


def _post(client: TestClient, action: str, fields: Mapping[str, object]) -> tuple[int, str]:
    token = csrf_of(client.get(action).text)
    answer = client.post(action, data={**fields, "csrf": token})
    return answer.status_code, answer.text


def _count(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(groups)) or 0)


def _fields(**changed: object) -> GroupFields:
    values = {**READING, **changed}
    return GroupFields.posted(**{key: value for key, value in values.items()})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changed", "rule", "shown"),
    [
        ({}, "FREQ=WEEKLY;BYDAY=WE", ("weekly", ["WE"], [])),
        ({"repeat": "fortnightly", "weekdays": ["MO", "TH"]}, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", None),
        (
            {"repeat": "monthly", "weeks": ["1", "3"]},
            "FREQ=MONTHLY;BYDAY=1WE,3WE",
            ("monthly", ["WE"], ["1", "3"]),
        ),
        ({"repeat": "monthly", "weeks": ["-1"], "weekdays": ["FR"]}, "FREQ=MONTHLY;BYDAY=-1FR", None),
        ({"repeat": "once"}, "FREQ=DAILY;COUNT=1", ("once", [], [])),
    ],
)
def test_each_schedule_on_the_page_is_a_rule_and_reads_back_the_same(
    changed: dict[str, object], rule: str, shown: tuple[str, list[str], list[str]] | None
) -> None:
    fields = _fields(**changed)
    assert rule_of(fields) == rule
    assert schedule_of(rule) == (shown or (fields.repeat, fields.weekdays, fields.weeks))


def test_every_shipped_group_and_a_calendars_exceptions_are_shown_or_kept() -> None:
    for group in load_catalogue(DIALOGS, "da").groups:
        repeat, days, _weeks = schedule_of(group.rrule)
        assert repeat in ("weekly", "fortnightly", "monthly") and days, group.rrule
    assert schedule_of("RRULE:FREQ=WEEKLY;BYDAY=WE\nEXDATE:20260311T140000")[0] == "keep"
    assert schedule_of("FREQ=MONTHLY;BYDAY=1WE,3TH")[0] == "keep"  # not every week with every day
    assert schedule_of("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO")[0] == "keep"


def test_a_coordinator_adds_a_group_and_a_relative_can_suggest_it(
    database: Database, coordinator: TestClient
) -> None:
    status, page = _post(coordinator, "/catalogue/new", READING)
    assert status == 200 and "Gemt: Læsekreds på Østerbro" in page
    assert "onsdag den 4. marts 2026 klokken 14.00" in page
    group = find_group(database.engine, "laesekreds-paa-oesterbro")
    assert group is not None and group.interests == ("bøger", "læsning") and group.minutes == 90
    # The shipped list, seeded again at the next start, leaves the coordinator's group alone.
    seed_catalogue(database.engine, load_catalogue(DIALOGS, "da"), "da")
    assert find_group(database.engine, "laesekreds-paa-oesterbro") == group

    again, _ = _post(coordinator, "/catalogue/new", READING)
    assert again == 200 and find_group(database.engine, "laesekreds-paa-oesterbro-2") is not None

    relative = TestClient(create_app(database, now=lambda: NOW), headers={"accept-language": "da"})
    reminders = pair(relative, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    assert "Læsekreds på Østerbro" in reminders and "/groups/laesekreds-paa-oesterbro/suggest" in reminders


def test_changing_a_shipped_group_makes_it_the_coordinators(
    database: Database, coordinator: TestClient
) -> None:
    catalogue = coordinator.get("/catalogue").text
    group_id = re.findall(r'href="/catalogue/([\w-]+)/edit"', catalogue)[0]
    before = find_group(database.engine, group_id)
    assert before is not None
    form = coordinator.get(f"/catalogue/{group_id}/edit").text
    assert f'value="{before.name}"' in form and 'id="repeat-keep"' in form
    status, _page = _post(
        coordinator, f"/catalogue/{group_id}/edit", {**READING, "name": before.name, "start": "15:30"}
    )
    assert status == 200
    seed_catalogue(database.engine, load_catalogue(DIALOGS, "da"), "da")
    after = find_group(database.engine, group_id)
    assert after is not None and after.start.isoformat() == "15:30:00" and after.name == before.name
    with database.engine.connect() as connection:
        assert connection.scalar(select(groups.c.source).where(groups.c.id == group_id)) == "coordinator"
    assert coordinator.get("/catalogue/no-such-group/edit").status_code == 404


def test_a_calendars_moved_and_cancelled_sessions_are_kept_when_other_things_change(
    database: Database, coordinator: TestClient
) -> None:
    calendar = KNITTING_WITH_A_CANCELLED_SESSION
    places = {"online": "på nettet", "phone": "i telefonen"}
    (imported,) = import_ics(database.engine, calendar, "da", remote_places=places, now=NOW)
    form = coordinator.get(f"/catalogue/{imported.id}/edit").text
    assert re.search(r'id="repeat-keep"[^>]*checked', form)
    fields = {**READING, "name": "Strikkecafe i Valby", "repeat": "keep", "weekdays": []}
    status, _page = _post(coordinator, f"/catalogue/{imported.id}/edit", fields)
    changed = find_group(database.engine, imported.id)
    assert status == 200 and changed is not None
    assert (changed.name, changed.rrule, changed.first_day) == (
        "Strikkecafe i Valby",
        imported.rrule,
        imported.first_day,
    )


@pytest.mark.parametrize(
    ("changed", "field", "said"),
    [
        ({"name": "  "}, "name", "Udfyld venligst feltet."),
        ({"name": "x" * 201}, "name", "Det er for langt."),
        ({"place": ""}, "place", "Udfyld venligst feltet."),
        ({"start": "25:00"}, "start", "Skriv tiden som timer og minutter"),
        ({"minutes": "5"}, "minutes", "fra 15 til 600"),
        ({"minutes": "en time"}, "minutes", "fra 15 til 600"),
        ({"first_day": "2026-02-30"}, "first_day", "Den dato findes ikke."),
        ({"weekdays": []}, "schedule", "Vælg de ugedage, gruppen mødes."),
        ({"repeat": "monthly"}, "schedule", "Vælg, hvilke uger i måneden gruppen mødes."),
        ({"repeat": "fortnightly", "first_day": ""}, "first_day", "Vælg dagen for første gang"),
        ({"repeat": "once", "first_day": "2026-02-27"}, "schedule", "mødes gruppen ikke flere gange"),
        ({"repeat": "keep"}, "schedule", "Vælg de ugedage"),  # nothing to keep in a new group
        ({"format": "carrier pigeon"}, "format", "Vælg en af mulighederne."),
    ],
)
def test_bad_input_is_explained_next_to_its_field_and_nothing_is_saved(
    database: Database, coordinator: TestClient, changed: dict[str, object], field: str, said: str
) -> None:
    before = _count(database)
    status, page = _post(coordinator, "/catalogue/new", {**READING, **changed})
    assert status == 400 and _count(database) == before
    shown = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.DOTALL)
    assert shown is not None and said in shown.group(1)
    assert 'value="Læsekreds på Østerbro"' in page or field == "name"  # what was typed stays


def test_html_in_a_group_is_shown_as_text(database: Database, coordinator: TestClient) -> None:
    _post(coordinator, "/catalogue/new", {**READING, "name": "<script>alert(1)</script> 🧶"})
    page = coordinator.get("/catalogue").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 🧶" in page and "<script>alert" not in page


def test_only_a_coordinator_with_the_forms_token_changes_the_catalogue(
    database: Database, coordinator: TestClient
) -> None:
    before = _count(database)
    assert coordinator.post("/catalogue/new", data=READING).status_code == 403
    relative = TestClient(create_app(database, now=lambda: NOW), headers={"accept-language": "da"})
    pair(relative, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    assert relative.get("/catalogue/new").status_code == 403
    token = csrf_of(relative.get("/reminders").text)
    assert relative.post("/catalogue/new", data={**READING, "csrf": token}).status_code == 403
    assert _count(database) == before


@pytest.mark.parametrize(
    ("changed", "field", "said"),
    [
        ({"minutes": "²⁰"}, "minutes", "fra 15 til 600"),  # digits Python knows, but no number of minutes
        ({"start": "10:00Z"}, "start", "Skriv tiden som timer og minutter"),
        ({"first_day": "0001-01-03"}, "first_day", "inden for det seneste år"),
    ],
)
def test_odd_input_that_looks_valid_is_refused_not_a_server_error(
    database: Database, coordinator: TestClient, changed: dict[str, object], field: str, said: str
) -> None:
    status, page = _post(coordinator, "/catalogue/new", {**READING, **changed})
    shown = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.DOTALL)
    assert status == 400 and shown is not None and said in shown.group(1)


def test_many_weekdays_and_weeks_can_be_chosen(database: Database, coordinator: TestClient) -> None:
    chosen = {"repeat": "monthly", "weekdays": ["MO", "WE", "FR"], "weeks": ["1", "2", "3", "-1"]}
    status, _page = _post(coordinator, "/catalogue/new", {**READING, **chosen})
    group = find_group(database.engine, "laesekreds-paa-oesterbro")
    assert status == 200 and group is not None
    assert group.rrule.count(",") == 11  # 3 days in 4 weeks


def test_a_kept_calendar_schedule_keeps_its_start_time(database: Database, coordinator: TestClient) -> None:
    calendar = KNITTING_WITH_A_CANCELLED_SESSION
    places = {"online": "på nettet", "phone": "i telefonen"}
    (imported,) = import_ics(database.engine, calendar, "da", remote_places=places, now=NOW)
    fields = {**READING, "name": imported.name, "repeat": "keep", "start": "15:00"}
    status, page = _post(coordinator, f"/catalogue/{imported.id}/edit", fields)
    assert status == 400 and "Vælg også en ny plan" in page
    assert find_group(database.engine, imported.id) == imported
