"""What the reminders page shows is kept between visits (companion/web/listing.py): it must never show a
household a stale list, nor one visitor's CSRF token to another."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from companion.reminders.book import History, Reminder, ReminderBook
from companion.store.database import Database, writing
from companion.store.schema import DEVICE_HOUSEHOLD, occurrences
from companion.web.app import create_app
from companion.web.listing import HouseholdViews
from companion.web.pairing import new_code

from clocks import utc
from web_pages import add_reminder, csrf_of, pair

START = utc("2026-03-02T09:00").replace(tzinfo=None)


class MovingClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def database(any_database: Database) -> Database:
    return any_database  # SQLite (the device) and PostgreSQL (the hub)


def _relative(database: Database, clock: MovingClock, email: str, address: str) -> TestClient:
    client = TestClient(
        create_app(database, now=clock), headers={"accept-language": "da"}, client=(address, 50000)
    )
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, clock()), email)
    return client


def test_a_kept_view_is_built_again_only_when_something_it_shows_changed(database: Database) -> None:
    clock = MovingClock()
    book = ReminderBook(database.engine, clock)
    views = HouseholdViews(book, clock)
    built: list[int] = []

    def count(own: list[Reminder], _histories: dict[int, History]) -> int:
        built.append(len(own))
        return len(own)

    assert views.of(DEVICE_HOUSEHOLD, "count", count) == 0
    clock.now += timedelta(seconds=5)
    assert views.of(DEVICE_HOUSEHOLD, "count", count) == 0
    assert built == [0]  # nothing changed within the minute: kept

    book.create("Kaffe", "2026-03-03T10:00")  # through the same book: seen at once, clock or not
    assert views.of(DEVICE_HOUSEHOLD, "count", count) == 1

    # Another process (the device) writes with its own connection and clock.
    other = Database(database.directory, url=database.url).open()
    try:
        clock.now += timedelta(seconds=1)
        ReminderBook(other.engine, clock).create("Læge", "2026-03-04T10:00")
        assert views.of(DEVICE_HOUSEHOLD, "count", count) == 2
        assert views.of(DEVICE_HOUSEHOLD, "other kind", count) == 2
        assert built == [0, 1, 2, 2]
        clock.now += timedelta(minutes=1)  # the minute turned: "next time" may have moved on
        views.of(DEVICE_HOUSEHOLD, "count", count)
        assert built == [0, 1, 2, 2, 2]
    finally:
        other.close()


def test_the_page_shows_what_the_device_did_with_a_reminder_at_once(database: Database) -> None:
    clock = MovingClock()
    client = _relative(database, clock, "anne@example.dk", "192.0.2.1")
    add_reminder(client, text="Tag din medicin", date="2026-03-02", time="10:00", repeat="daily")
    assert "sagt – venter på knappen" not in client.get("/reminders").text
    reminder_id = int(re.findall(r"/reminders/(\d+)/edit", client.get("/reminders").text)[0])

    # The device, in its own process, speaks the reminder and later hears the button.
    device = Database(database.directory, url=database.url).open()
    try:
        spoken = START + timedelta(minutes=1)
        with writing(device.engine) as connection:
            connection.execute(
                insert(occurrences).values(
                    reminder_id=reminder_id,
                    due_at="2026-03-02T10:00",
                    lead="at",
                    speak_utc=spoken,
                    state="delivered",
                    attempts=1,
                    last_attempt_utc=spoken,
                    updated_utc=spoken,
                )
            )
        clock.now += timedelta(seconds=10)  # within the same minute as the page before
        assert "sagt – venter på knappen" in client.get("/reminders").text
        with writing(device.engine) as connection:
            connection.execute(
                update(occurrences).values(state="acknowledged", updated_utc=spoken + timedelta(seconds=20))
            )
        page = client.get("/reminders").text
        assert "hørt – der blev trykket på knappen" in page and "venter på knappen" not in page
    finally:
        device.close()


def test_each_visitor_gets_their_own_token_in_the_shared_list(database: Database) -> None:
    clock = MovingClock()
    anne = _relative(database, clock, "anne@example.dk", "192.0.2.1")
    lone = _relative(database, clock, "lone@example.dk", "192.0.2.2")
    # Words that look like the list's placeholder for the token stay words.
    add_reminder(anne, text="<csrf> og mere", date="2026-03-03", time="10:00", repeat="once")
    anne_page, lone_page = anne.get("/reminders").text, lone.get("/reminders").text
    assert "&lt;csrf&gt; og mere" in anne_page and "<csrf>" not in anne_page
    anne_tokens = set(re.findall(r'name="csrf" value="([^"]+)"', anne_page))
    lone_tokens = set(re.findall(r'name="csrf" value="([^"]+)"', lone_page))
    assert len(anne_tokens) == 1 and len(lone_tokens) == 1 and anne_tokens != lone_tokens
    reminder_id = re.findall(r"/reminders/(\d+)/delete", lone_page)[0]
    deleted = lone.post(f"/reminders/{reminder_id}/delete", data={"csrf": csrf_of(lone_page)})
    assert deleted.status_code == 200 and "Der er ingen påmindelser endnu." in deleted.text
    assert "og mere" not in anne.get("/reminders").text
