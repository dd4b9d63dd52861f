"""The web page through FastAPI's TestClient: pairing with a spoken code, a relative's reminders, household
isolation, CSRF, throttling, bad input shown next to its field in the visitor's language, and headers."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from companion.mind.build import assemble_mind, load_catalogue, utc_clock
from companion.mind.catalogue import COPENHAGEN, Catalogue
from companion.mind.memory import MemoryStore
from companion.reminders.book import ReminderBook
from companion.store.catalogue import load_catalogue_from_db, seed_catalogue
from companion.store.database import Database
from companion.store.schema import DEVICE_HOUSEHOLD, audit_log, households, reminders
from companion.web.app import create_app
from companion.web.pairing import new_code

from clocks import utc
from minds import Clock, say
from web_pages import add_account, add_reminder, csrf_of, pair

DIALOGS = Path(__file__).parent.parent / "dialogs"

NOW = utc("2026-03-02T09:00")  # a Monday morning


@pytest.fixture
def database(any_database: Database) -> Database:
    return any_database  # SQLite (the device) and PostgreSQL (the hub)


def browser(database: Database, address: str = "192.0.2.1") -> TestClient:
    app = create_app(database, now=lambda: NOW)
    return TestClient(app, headers={"accept-language": "da"}, client=(address, 50000))


def count(database: Database, table: object) -> int:
    with database.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_pairing_with_the_spoken_code_makes_an_account_and_the_code_works_once(database: Database) -> None:
    code = new_code(database.engine, DEVICE_HOUSEHOLD, NOW)
    client = browser(database)
    page = pair(client, f"{code[:4]} {code[4:]}", "anne@example.dk")  # as it was said: in two halves
    assert "<h1>Påmindelser</h1>" in page and 'lang="da"' in page
    again = pair(browser(database), code, "lone@example.dk", name="Lone")
    assert "Den kode passer ikke" in again


def test_a_weekly_reminder_is_listed_in_danish_with_who_asked(database: Database) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    page = add_reminder(
        client,
        text="Tag din medicin",
        date="2026-03-02",
        time="10:00",
        repeat="weekly",
        weekdays=["MO", "TH"],
    )
    assert "Tag din medicin" in page
    assert (
        "Hver uge mandag, torsdag klokken 10.00" in page or "Hver uge mandag, torsdag klokken 10:00" in page
    )
    assert "Bedt om af Anne" in page
    with database.engine.connect() as connection:
        row = connection.execute(select(reminders)).one()
    assert (row.asked_by, row.asked_by_name, row.rrule) == ("relative", "Anne", "FREQ=WEEKLY;BYDAY=MO,TH")
    assert count(database, audit_log) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "Kaffe", "date": "2026-03-01", "time": "10:00"}, "allerede gået"),
        ({"text": "Kaffe", "date": "2026-02-30", "time": "10:00"}, "findes ikke"),
        ({"text": "Kaffe", "date": "2026-03-29", "time": "02:30"}, "uret stilles frem"),
        ({"text": "x" * 5000, "date": "2026-03-03", "time": "10:00"}, "højst 500 tegn"),
        ({"text": "   ", "date": "2026-03-03", "time": "10:00"}, "Skriv, hvad companion skal sige"),
    ],
)
def test_bad_input_is_explained_next_to_its_field_and_nothing_is_saved(
    database: Database, fields: dict[str, str], message: str
) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    page = add_reminder(client, repeat="once", **fields)
    assert message in page and 'aria-invalid="true"' in page
    assert count(database, reminders) == 0


def test_html_and_script_are_shown_as_text_and_emoji_kept(database: Database) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    page = add_reminder(client, text="<script>alert(1)</script> Kaffe ☕", date="2026-03-03", time="10:00")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kaffe ☕" in page and "<script>" not in page


def test_a_household_sees_and_changes_nothing_of_another(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(insert(households).values(id=2, name="", created_utc=NOW))
    anne, bent = browser(database), browser(database)
    pair(anne, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    pair(bent, new_code(database.engine, 2, NOW), "bent@example.dk", name="Bent")
    add_reminder(anne, text="Annes hemmelighed", date="2026-03-03", time="10:00")
    (reminder_id,) = [int(i) for i in re.findall(r"/reminders/(\d+)/delete", anne.get("/reminders").text)]
    assert "Annes hemmelighed" not in bent.get("/reminders").text
    token = csrf_of(bent.get("/reminders/new").text)
    assert bent.post(f"/reminders/{reminder_id}/delete", data={"csrf": token}).status_code == 404
    assert count(database, reminders) == 1


def test_a_form_without_its_csrf_token_is_refused(database: Database) -> None:
    client = browser(database)
    code = new_code(database.engine, DEVICE_HOUSEHOLD, NOW)
    client.get("/pair")
    fields = {"code": code, "name": "Anne", "email": "anne@example.dk", "password": "korrekt hest batteri"}
    assert client.post("/pair", data=fields).status_code == 403
    pair(client, code, "anne@example.dk")
    refused = client.post("/reminders/new", data={"text": "Kaffe", "date": "2026-03-03", "time": "10:00"})
    assert refused.status_code == 403 and count(database, reminders) == 0
    assert client.post("/reminders/new", data={"csrf": "forged", "text": "Kaffe"}).status_code == 403


def test_guessing_pairing_codes_voids_the_code_and_locks_the_guesser_out(database: Database) -> None:
    code = new_code(database.engine, DEVICE_HOUSEHOLD, NOW)
    guesser = browser(database, "198.51.100.66")
    pages = [pair(guesser, f"{guess:08d}", "mallory@example.dk") for guess in range(5)]
    assert all("Den kode passer ikke" in page for page in pages)
    assert "Den kode passer ikke" in pair(browser(database), code, "anne@example.dk")  # void after 5 wrong
    assert "For mange forkerte koder" in pair(guesser, code, "mallory@example.dk")


def test_wrong_passwords_lock_the_account_for_a_while(database: Database) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    other = browser(database)
    for _ in range(5):
        token = csrf_of(other.get("/login").text)
        page = other.post("/login", data={"email": "anne@example.dk", "password": "forkert", "csrf": token})
        assert "passer ikke" in page.text
    token = csrf_of(other.get("/login").text)
    right = {"email": "anne@example.dk", "password": "korrekt hest batteri", "csrf": token}
    locked = other.post("/login", data=right)
    assert locked.status_code == 429 and "For mange forkerte forsøg" in locked.text


def test_cookies_and_headers_protect_the_session(database: Database) -> None:
    client = browser(database)
    token = csrf_of(client.get("/pair").text)
    code = new_code(database.engine, DEVICE_HOUSEHOLD, NOW)
    fields = {"code": code, "name": "Anne", "email": "anne@example.dk", "password": "korrekt hest batteri"}
    response = client.post("/pair", data={**fields, "csrf": token}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    page = client.get("/reminders")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"


def test_the_language_switch_and_signing_out(database: Database) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    page = client.get("/language/en?back=/reminders").text
    assert 'lang="en"' in page and "<h1>Reminders</h1>" in page
    token = csrf_of(page)
    assert "Sign in" in client.post("/logout", data={"csrf": token}).text
    assert client.get("/reminders", follow_redirects=False).status_code == 303


def test_every_text_on_the_pages_has_a_danish_translation() -> None:
    from companion.web.i18n import LOCALE_DIR, translations

    web = LOCALE_DIR.parent
    sources = [*web.glob("templates/*.html"), *web.glob("*.py"), web.parent / "usage" / "report.py"]
    said = set()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        said |= set(re.findall(r'_\("([^"]+)"\)', text)) | set(re.findall(r"_\('([^']+)'\)", text))
        said |= set(re.findall(r'gettext\("([^"]+)"\)', text))
    missing = sorted(m for m in said if translations("da").gettext(m) == m and m != "Companion")
    assert len(said) > 50 and missing == []


def test_dates_are_written_as_each_language_writes_them() -> None:
    from datetime import datetime

    from companion.web.i18n import translations
    from companion.web.listing import IN_A_DATE, MONTH_NAMES, WEEKDAY_NAMES, when_words

    danish = translations("da")
    names = [danish.pgettext(IN_A_DATE, name) for name in (*WEEKDAY_NAMES, *MONTH_NAMES)]
    assert all(name.islower() for name in names) and len(set(names)) == 19
    assert when_words(datetime(2026, 3, 2, 9, 5), "da") == "mandag den 2. marts 2026 klokken 09.05"
    assert when_words(datetime(2026, 12, 27, 18, 30), "en") == "Sunday, December 27, 2026 at 18:30"


def test_a_group_a_relative_suggests_is_mentioned_once_in_the_next_conversation(database: Database) -> None:
    seed_catalogue(database.engine, load_catalogue(DIALOGS, "da"), "da")
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    page = client.get("/reminders").text
    assert "Grupper de næste to uger" in page
    group_id = re.findall(r'action="/groups/([\w-]+)/suggest"', page)[0]
    token = csrf_of(page)
    shown = client.post(f"/groups/{group_id}/suggest", data={"csrf": token}).text
    assert "Companion nævner" in shown
    assert client.post("/groups/no-such-group/suggest", data={"csrf": token}).status_code == 404

    clock = Clock(NOW.replace(tzinfo=UTC).astimezone(COPENHAGEN))
    catalogue = Catalogue(load_catalogue_from_db(database.engine, "da"))
    book = ReminderBook(database.engine, utc_clock(clock))
    mind = assemble_mind(DIALOGS, "da", catalogue, MemoryStore(), clock, reminders=book)
    reply, outcomes = say(mind, "Godmorgen.")
    name = catalogue.group(group_id).name  # type: ignore[union-attr]
    assert (
        reply.startswith(f"Anne har foreslået {name} til dig.")
        and f"relative_suggestion:{group_id}" in outcomes
    )
    _, answered = say(mind, "Ja tak.")
    assert any(o.startswith("reminder_created") for o in answered)
    clock.now += timedelta(hours=2)
    again, _ = say(mind, "Godmorgen igen.")
    assert "foreslået" not in again


def test_a_reminder_is_changed_in_its_own_household_only(database: Database) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    add_reminder(client, text="Kaffe", date="2026-03-03", time="10:00", repeat="once")
    (reminder_id,) = [int(i) for i in re.findall(r"/reminders/(\d+)/edit", client.get("/reminders").text)]
    form = client.get(f"/reminders/{reminder_id}/edit").text
    assert "<h1>Ret påmindelsen</h1>" in form and 'value="2026-03-03"' in form and ">Kaffe</textarea>" in form
    fields = {"text": "Kaffe med Lone", "date": "2026-03-04", "time": "15:00", "repeat": "daily"}
    page = client.post(f"/reminders/{reminder_id}/edit", data={**fields, "csrf": csrf_of(form)}).text
    assert "Kaffe med Lone" in page and re.search(r"Hver dag klokken 15[.:]00", page)
    refused = client.post(
        f"/reminders/{reminder_id}/edit", data={**fields, "date": "2026-02-30", "csrf": csrf_of(form)}
    )
    assert refused.status_code == 400 and "findes ikke" in refused.text
    with database.engine.begin() as connection:
        connection.execute(insert(households).values(id=2, name="", created_utc=NOW))
    stranger = browser(database, "192.0.2.9")
    pair(stranger, new_code(database.engine, 2, NOW), "bent@example.dk", name="Bent")
    assert stranger.get(f"/reminders/{reminder_id}/edit").status_code == 404
    token = csrf_of(stranger.get("/reminders").text)
    assert stranger.post(f"/reminders/{reminder_id}/edit", data={**fields, "csrf": token}).status_code == 404


@pytest.mark.parametrize("back", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_the_language_switch_never_sends_anyone_to_another_site(database: Database, back: str) -> None:
    response = browser(database).get(f"/language/en?back={back}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_form_field_far_too_long_gets_a_plain_page_not_a_stack_of_json(database: Database) -> None:
    client = browser(database)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"email": "x" * 400, "password": "y", "csrf": token})
    assert response.status_code == 400 and "<h1>Noget er galt</h1>" in response.text


def test_a_password_hashed_with_heavier_settings_still_signs_in_and_is_rehashed(database: Database) -> None:
    from argon2 import PasswordHasher

    from companion.store.schema import accounts
    from companion.web.accounts import authenticate

    made = add_account(database, "relative", "anne@example.dk", NOW, name="Anne")
    # As an account made before the lighter setting: argon2-cffi's 64 MiB default.
    old = PasswordHasher().hash("korrekt hest batteri")
    with database.engine.begin() as connection:
        connection.execute(accounts.update().where(accounts.c.id == made.id).values(password_hash=old))

    assert authenticate(database.engine, "anne@example.dk", "forkert hest batteri") is None
    assert authenticate(database.engine, "anne@example.dk", "korrekt hest batteri") == made
    with database.engine.connect() as connection:
        new = connection.execute(select(accounts.c.password_hash)).scalar_one()
    assert new != old and "m=19456,t=2,p=1" in new
    assert authenticate(database.engine, "anne@example.dk", "korrekt hest batteri") == made


def test_a_reminder_on_three_weekdays(database: Database) -> None:
    client = browser(database)
    pair(client, new_code(database.engine, DEVICE_HOUSEHOLD, NOW), "anne@example.dk")
    page = add_reminder(
        client, text="Gåtur", date="2026-03-02", time="10:00", repeat="weekly", weekdays=["MO", "WE", "FR"]
    )
    assert re.search(r"Hver uge mandag, onsdag, fredag klokken 10[.:]00", page)
