"""Sync between the hub (`companion hub` as its own process, on the private PostgreSQL server, over real
HTTPS) and devices (each its own SQLite database): changes pulled by version, states pushed back,
idempotent and resumable, credentials revocable, households kept apart."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from benchmarks.private_postgres import Server
from companion.errors import CompanionError, HubError
from companion.hub.changes import changes_since
from companion.hub.client import HubLink
from companion.hub.devices import Device, add_device, device_of, revoke_device
from companion.hub.replica import apply_page, changed_occurrences, pulled_version
from companion.mind.catalogue import Group
from companion.reminders.book import ReminderBook
from companion.reminders.ledger import Ledger
from companion.reminders.recurrence import local
from companion.store.catalogue import retire_group, save_group
from companion.store.database import Database, utc_now, writing
from companion.store.schema import fleet_weeks, groups, occurrences, reminders
from companion.usage.store import decide

from hub_fleet import HubProcess, SimulatedDevice, claimed, household_with_device, relative_of
from web_pages import PASSWORD


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, postgres_server: Server) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("hub"), postgres_server.create_database(), tls=True)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def hub_database(hub: HubProcess) -> Iterator[Database]:
    with Database(None, url=hub.database_url) as database:
        yield database


def _device(tmp_path: Path, hub: HubProcess, credential: str, name: str = "device") -> SimulatedDevice:
    return SimulatedDevice(tmp_path / name, hub.url, credential, str(hub.certificate))


def _signed_in(hub: HubProcess, email: str) -> httpx.Client:
    """The hub's API over HTTPS, as the relative with this e-mail."""
    api = httpx.Client(base_url=hub.url, verify=hub.trust())
    token = api.post("/api/session", json={"email": email, "password": PASSWORD}).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    return api


def _group(group_id: str, name: str) -> Group:
    """A weekly group of the hub's catalogue, as a coordinator saves it."""
    return Group(
        id=group_id,
        name=name,
        description="Vi ses hver uge.",
        interests=("hygge",),
        format="physical",
        place="Kulturhuset",
        rrule="FREQ=WEEKLY;BYDAY=TU",
        start=time(14, 0),
        minutes=120,
        contact="Lone, 12 34 56 78",
    )


def _later(minutes: int) -> str:
    return (local(utc_now()) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def test_a_relatives_reminder_on_the_hub_reaches_the_device_and_what_it_said_comes_back(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    household, _device_id, credential = household_with_device(hub_database, "Inger")
    relative_of(hub_database, household, "anne@example.dk")
    api = _signed_in(hub, "anne@example.dk")
    made = api.post("/api/reminders", json={"text": "tag pillerne", "starts_at": _later(30)})
    assert made.status_code == 201, made.text

    device = _device(tmp_path, hub, credential)
    try:
        assert device.sync().pulled == 1
        ((hub_id, (text, starts_at, rule)),) = device.hub_reminders().items()
        assert (hub_id, text, starts_at, rule) == (made.json()["id"], "tag pillerne", _later(30), None)
        (copy,) = ReminderBook(device.database.engine).all()
        assert (copy.asked_by, copy.asked_by_name) == ("relative", "Anne")  # said as "Anne bad mig …"

        # The device says it and the person presses: the state goes back to the hub, for Anne's page.
        ledger = Ledger(device.database.engine)
        said = claimed(ledger, copy.id)
        ledger.spoken(said.id, utc_now())
        assert ledger.acknowledge(utc_now()) == [said.id]
        assert device.sync().pushed >= 1
        history = api.get(f"/api/reminders/{hub_id}").json()["history"]
        assert [entry["state"] for entry in history] == ["acknowledged"]
        assert device.sync().pushed == 0  # nothing new: nothing sent again
    finally:
        device.close()
        api.close()


def test_edits_and_deletions_follow_and_a_page_applied_twice_changes_nothing(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    household, device_id, credential = household_with_device(hub_database, "Karl")
    book = ReminderBook(hub_database.engine)
    kept = book.create(
        "kaffe med Bent", _later(60), household_id=household, asked_by="relative", asked_by_name="Bo"
    )
    gone = book.create(
        "ring til lægen", _later(90), household_id=household, asked_by="relative", asked_by_name="Bo"
    )
    device = _device(tmp_path, hub, credential)
    try:
        device.sync()
        book.update(kept.id, "kaffe med Bent og Lis", _later(75), "FREQ=WEEKLY")
        book.delete(gone.id)
        device.sync()
        assert device.hub_reminders() == {kept.id: ("kaffe med Bent og Lis", _later(75), "FREQ=WEEKLY")}

        # A page seen twice (a connection cut after the device applied it): the second is refused, as it
        # does not follow on from where the device is — and applying its rows again would change nothing.
        here = pulled_version(device.database.engine)
        who = _device_record(hub_database, device_id)
        page = changes_since(hub_database.engine, who, 0)
        with pytest.raises(HubError, match="this device is at"):
            apply_page(device.database.engine, page, utc_now())
        again = {**page, "since": here, "up_to": here}
        assert apply_page(device.database.engine, again, utc_now()) == 0
        assert device.hub_reminders() == {kept.id: ("kaffe med Bent og Lis", _later(75), "FREQ=WEEKLY")}
    finally:
        device.close()


def test_small_pages_resume_where_they_stopped(hub_database: Database, tmp_path: Path) -> None:
    household, device_id, _credential = household_with_device(hub_database, "Edith")
    book = ReminderBook(hub_database.engine)
    made = [
        book.create(
            f"gå en tur nr. {n}",
            _later(120 + n),
            household_id=household,
            asked_by="relative",
            asked_by_name="Ib",
        )
        for n in range(7)
    ]
    who = _device_record(hub_database, device_id)
    with Database(tmp_path) as device:
        pages = 0
        while True:
            page = changes_since(hub_database.engine, who, pulled_version(device.engine), limit=3)
            apply_page(device.engine, page, utc_now())
            pages += 1
            if not page["more"]:
                break
        assert pages >= 3
        with device.engine.connect() as connection:
            held = set(connection.scalars(select(reminders.c.hub_id).where(reminders.c.hub_id.is_not(None))))
        assert held == {reminder.id for reminder in made}


def test_the_catalogue_reaches_every_device_and_a_reminder_brings_its_group(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    group = _group("strikkecafe-hub", "Strikkecafé i Kulturhuset")
    save_group(hub_database.engine, group, "da", utc_now())
    household, _device_id, credential = household_with_device(hub_database, "Ruth")
    ReminderBook(hub_database.engine).create(
        "strikkecafé",
        _later(200),
        household_id=household,
        group_id=group.id,
        asked_by="coordinator",
        asked_by_name="Lone",
    )
    device = _device(tmp_path, hub, credential)
    try:
        device.sync()
        with device.database.engine.connect() as connection:
            row = connection.execute(select(groups).where(groups.c.id == group.id)).one()
        assert (row.name, row.source, row.retired) == ("Strikkecafé i Kulturhuset", "hub", False)
        retire_group(hub_database.engine, group.id, utc_now())
        device.sync()
        with device.database.engine.connect() as connection:
            assert connection.scalar(select(groups.c.retired).where(groups.c.id == group.id)) is True
    finally:
        device.close()


def test_a_revoked_device_is_refused_and_keeps_its_own_copy(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    household, device_id, credential = household_with_device(hub_database, "Poul")
    ReminderBook(hub_database.engine).create(
        "bingo", _later(300), household_id=household, asked_by="relative", asked_by_name="Mia"
    )
    device = _device(tmp_path, hub, credential)
    try:
        device.sync()
        assert revoke_device(hub_database.engine, device_id, utc_now())
        with pytest.raises(HubError) as refused:
            device.sync()
        assert refused.value.refused and "refused this device's credential" in refused.value.message
        assert [text for text, _at, _rule in device.hub_reminders().values()] == [
            "bingo"
        ]  # still said at its time
        raw = httpx.get(f"{hub.url}/api/sync/changes", verify=hub.trust())
        assert raw.status_code == 401  # and no credential at all is refused the same way
    finally:
        device.close()


def test_household_isolation_across_the_hub(hub: HubProcess, hub_database: Database, tmp_path: Path) -> None:
    a, _device_a, credential_a = household_with_device(hub_database, "A")
    b, _device_b, credential_b = household_with_device(hub_database, "B")
    book = ReminderBook(hub_database.engine)
    of_b = book.create(
        "B's hemmelighed", _later(400), household_id=b, asked_by="relative", asked_by_name="Bo"
    )
    book.create("A's aftale", _later(400), household_id=a, asked_by="relative", asked_by_name="Al")
    relative_of(hub_database, a, "relative-a@example.dk", "Al")

    device_a = _device(tmp_path, hub, credential_a, "a")
    device_b = _device(tmp_path, hub, credential_b, "b")
    try:
        device_a.sync()
        assert [text for text, _at, _rule in device_a.hub_reminders().values()] == ["A's aftale"]
        # A's device pushes a state for B's reminder: the hub ignores it.
        forged = {
            "reminder_id": of_b.id,
            "due_at": _later(400),
            "lead": "at",
            "speak_utc": utc_now().isoformat(),
            "state": "missed",
            "attempts": 3,
            "last_attempt_utc": None,
            "change": 10_000,
        }
        assert device_a.link.post("/api/sync/occurrences", {"occurrences": [forged]}) == {"taken": 0}
        with hub_database.engine.connect() as connection:
            assert (
                connection.scalars(select(occurrences).where(occurrences.c.reminder_id == of_b.id)).all()
                == []
            )
        device_b.sync()
        assert [text for text, _at, _rule in device_b.hub_reminders().values()] == ["B's hemmelighed"]
        # A relative of A, on the hub's page and API, reaches nothing of B.
        api = _signed_in(hub, "relative-a@example.dk")
        assert api.get(f"/api/reminders/{of_b.id}").status_code == 404
        assert api.delete(f"/api/reminders/{of_b.id}").status_code == 404
        assert [r["text"] for r in api.get("/api/reminders").json()] == ["A's aftale"]
        api.close()
    finally:
        device_a.close()
        device_b.close()


def test_the_weekly_counts_go_under_the_pseudonym_and_go_away_when_the_person_says_no(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    _household, _device_id, credential = household_with_device(hub_database, "Alma")
    device = _device(tmp_path, hub, credential)
    try:
        today = local(utc_now()).date()
        decide(device.database.engine, 1, True, today - timedelta(days=3))
        from companion.usage.store import add, consent_of

        add(device.database.engine, 1, today, {("turns", ""): 4})
        consent = consent_of(device.database.engine, 1)
        assert consent is not None
        device.sync()
        with hub_database.engine.connect() as connection:
            kept = connection.execute(
                select(fleet_weeks).where(fleet_weeks.c.pseudonym == consent.pseudonym)
            ).all()
        assert [(row.key, row._mapping["count"]) for row in kept] == [("turns", 4)]
        device.sync()  # the same day: not sent again (nothing changed), nothing doubled
        decide(device.database.engine, 1, False, today)  # "du må ikke tælle mere"
        device.sync()
        with hub_database.engine.connect() as connection:
            left = connection.execute(
                select(fleet_weeks).where(fleet_weeks.c.pseudonym == consent.pseudonym)
            ).all()
        assert left == []
    finally:
        device.close()


def test_an_older_state_never_overwrites_a_newer_one(hub_database: Database, tmp_path: Path) -> None:
    household, device_id, _credential = household_with_device(hub_database, "Vera")
    reminder = ReminderBook(hub_database.engine).create(
        "frisør", _later(500), household_id=household, asked_by="relative", asked_by_name="Jo"
    )
    who = _device_record(hub_database, device_id)
    from companion.hub.changes import receive_occurrences

    base = {
        "reminder_id": reminder.id,
        "due_at": _later(500),
        "lead": "at",
        "speak_utc": utc_now().isoformat(),
    }
    newer = {**base, "state": "acknowledged", "attempts": 1, "last_attempt_utc": None, "change": 5}
    older = {**base, "state": "delivered", "attempts": 1, "last_attempt_utc": None, "change": 4}
    assert receive_occurrences(hub_database.engine, who, [newer], utc_now()) == 1
    assert receive_occurrences(hub_database.engine, who, [older, newer], utc_now()) == 0
    with hub_database.engine.connect() as connection:
        states = connection.scalars(
            select(occurrences.c.state).where(occurrences.c.reminder_id == reminder.id)
        ).all()
    assert states == ["acknowledged"]


def test_the_device_counts_every_change_of_an_occurrence(tmp_path: Path) -> None:
    with Database(tmp_path) as device:
        book = ReminderBook(device.engine)
        reminder = book.create("te", _later(10))
        with writing(device.engine) as connection:
            connection.execute(update(reminders).values(hub_id=77))
        ledger = Ledger(device.engine)
        said = claimed(ledger, reminder.id)
        first, up_to = changed_occurrences(device.engine)
        ledger.spoken(said.id, utc_now())
        second, later = changed_occurrences(device.engine)
        assert [item["state"] for item in first] == ["delivering"] and [i["state"] for i in second] == [
            "delivered"
        ]
        assert later > up_to and first[0]["reminder_id"] == 77
        book.delete(reminder.id)  # the highest counted row goes: the next change still counts higher
        other = book.create("kage", _later(20))
        claimed(ledger, other.id)
        with device.engine.connect() as connection:
            assert (connection.scalar(select(occurrences.c.change)) or 0) > later


def test_a_credential_is_kept_only_as_its_hash_and_a_household_has_one_device(hub_database: Database) -> None:
    household, first, _credential = household_with_device(hub_database, "Gerda")
    with pytest.raises(CompanionError, match=f"has a device already .device {first}") as refused:
        add_device(hub_database.engine, household, "reserve", utc_now())
    assert f"companion devices revoke {first}" in refused.value.fix
    revoke_device(hub_database.engine, first, utc_now())
    device, credential = add_device(hub_database.engine, household, "the replacement", utc_now())
    assert device_of(hub_database.engine, credential) == device
    with hub_database.engine.connect() as connection:
        from companion.store.schema import devices

        stored = connection.execute(
            select(devices.c.token_hash).where(devices.c.id == device.id)
        ).scalar_one()
    assert credential not in stored and len(stored) == 64
    assert device_of(hub_database.engine, credential + "x") is None
    assert device_of(hub_database.engine, "not a credential") is None


def _device_record(hub_database: Database, device_id: int) -> Device:
    from companion.hub.devices import list_devices

    return next(device for device in list_devices(hub_database.engine) if device.id == device_id)


def _page(
    since: int, up_to: int, reminders_sent: list[dict[str, object]], deleted: Sequence[int] = ()
) -> dict[str, object]:
    """A page as the hub sends it (changes_since), made by hand: the rule is the device's to keep."""
    return {
        "household": 9,
        "epoch": "a-hub",
        "reset": False,
        "since": since,
        "up_to": up_to,
        "more": False,
        "groups": [],
        "reminders": reminders_sent,
        "deleted": [{"kind": "reminder", "id": str(hub_id), "version": up_to} for hub_id in deleted],
    }


def _hub_reminder(version: int, text: str, starts_at: str, created: str) -> dict[str, object]:
    return {
        "id": 501,
        "version": version,
        "text": text,
        "asked_by": "relative",
        "asked_by_name": "Anne",
        "starts_at": starts_at,
        "rrule": "FREQ=DAILY",
        "group_id": None,
        "urgent": False,
        "created_utc": created,
    }


def test_the_conflict_rule_a_reminder_changed_while_being_said_finishes_as_it_was() -> None:
    """docs/hub-sync.md: the occurrence being said is finished as it is (and its state reaches the hub);
    the change applies from the next time; a deletion mid-delivery cuts nothing short."""
    from companion.reminders.scheduler import Scheduler, SchedulerOptions

    from clocks import ManualClock, utc

    clock = ManualClock(utc("2026-12-03T09:59"))
    with Database(None) as device:
        ledger = Ledger(device.engine)
        scheduler = Scheduler(ReminderBook(device.engine, clock.now), ledger, clock, SchedulerOptions())
        first = _hub_reminder(1, "tag pillerne", "2026-12-03T10:00", "2026-12-03T08:00:00")
        apply_page(device.engine, _page(0, 1, [first]), clock.now())
        clock.set(utc("2026-12-03T10:00"))
        scheduler.tick()
        (due,) = scheduler.ready()
        being_said = ledger.claim(due, clock.now())
        assert being_said is not None

        # Anne moves it to 11:00 with new words, just as the device speaks it.
        edited = _hub_reminder(2, "tag de nye piller", "2026-12-03T11:00", "2026-12-03T09:00:10")
        apply_page(device.engine, _page(1, 2, [edited]), clock.now())
        ledger.spoken(being_said.id, clock.now())
        assert ledger.acknowledge(clock.now()) == [being_said.id]  # the press is kept, as it was said
        pushed_states, _up_to = changed_occurrences(device.engine)
        assert [(s["reminder_id"], s["due_at"], s["state"]) for s in pushed_states][-1] == (
            501,
            "2026-12-03T10:00",
            "acknowledged",
        )
        clock.set(utc("2026-12-03T10:30"))
        scheduler.tick()
        assert scheduler.ready() == []  # not said again at the old time
        clock.set(utc("2026-12-03T11:00"))
        scheduler.tick()
        (next_time,) = scheduler.ready()
        assert next_time.due_at == datetime(2026, 12, 3, 11, 0)

        # Deleted while that one is being said: the words already under way end as they are, nothing
        # fails, and it is never said again.
        again = ledger.claim(next_time, clock.now())
        assert again is not None
        apply_page(device.engine, _page(2, 3, [], deleted=[501]), clock.now())
        ledger.spoken(again.id, clock.now())
        assert ledger.acknowledge(clock.now()) == []
        clock.set(utc("2026-12-04T11:00"))
        scheduler.tick()
        assert scheduler.ready() == [] and device_reminders(device) == []


def device_reminders(device: Database) -> list[str]:
    return [reminder.text for reminder in ReminderBook(device.engine).all()]


def test_the_sync_endpoints_survive_generated_requests(hub_database: Database) -> None:
    """Whatever a device (or anyone with a credential) sends: refused or taken, never a server error."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.core.result import Ok

    from companion.web.app import create_app

    app = create_app(hub_database, hub=True)
    _household, _device_id, credential = household_with_device(hub_database, "Fuzz")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    checked = 0
    for operation in schema.get_all_operations():
        assert isinstance(operation, Ok), operation
        api_operation = operation.ok()
        if not api_operation.path.startswith("/api/sync/"):
            continue

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=api_operation.as_strategy())
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers={"Authorization": f"Bearer {credential}"})
            assert response.status_code < 500, (case.method, case.path, response.text)

        no_server_error()
        checked += 1
    assert checked == 6  # changes, occurrences, health, summary, deletions, mentioned


def test_a_device_handed_to_another_household_replaces_its_copy(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    book = ReminderBook(hub_database.engine)
    first, first_device, first_credential = household_with_device(hub_database, "Aase")
    book.create("Aases frisør", _later(600), household_id=first, asked_by="relative", asked_by_name="Bo")
    second, _second_device, second_credential = household_with_device(hub_database, "Birte")
    book.create("Birtes bingo", _later(600), household_id=second, asked_by="relative", asked_by_name="Cai")
    walk = _group("gaatur-hub", "Gåtur i parken")
    save_group(hub_database.engine, walk, "da", utc_now())
    device = _device(tmp_path, hub, first_credential)
    device.sync()
    # The person's own reminder of a hub group, made by voice: theirs, whatever the hub's copy does.
    own = ReminderBook(device.database.engine).create("gåtur", _later(900), group_id=walk.id)
    device.close()
    revoke_device(hub_database.engine, first_device, utc_now())

    again = _device(tmp_path, hub, second_credential)  # the same device, joined again with Birte's credential
    try:
        again.sync()
        assert [text for text, _at, _rule in again.hub_reminders().values()] == ["Birtes bingo"]
        kept = ReminderBook(again.database.engine).get(own.id)
        assert kept is not None and kept.group_id == walk.id  # the copy replaced; the person's own untouched
    finally:
        again.close()


def test_after_the_hubs_database_is_restored_devices_replace_their_copy(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    from companion.hub.replica import PULLED, keep_state

    household, _device_id, credential = household_with_device(hub_database, "Dorit")
    made = ReminderBook(hub_database.engine).create(
        "gymnastik", _later(700), household_id=household, asked_by="relative", asked_by_name="Eva"
    )
    device = _device(tmp_path, hub, credential)
    try:
        device.sync()
        # A device ahead of every version the hub has given (its database went back to an older backup):
        keep_state(device.database.engine, PULLED, "999999999")
        assert device.sync().pulled >= 1  # the copy replaced, not waited for numbers used again
        assert pulled_version(device.database.engine) < 999999999
        # The operator restored the hub and says so: every device replaces its copy.
        hub.run_command("devices", "resync")
        assert device.sync().pulled >= 1
        assert device.hub_reminders() == {made.id: ("gymnastik", _later(700), None)}
    finally:
        device.close()


def test_a_hub_reminder_the_person_deletes_by_voice_is_deleted_on_the_hub(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    household, _device_id, credential = household_with_device(hub_database, "Frida")
    relative_of(hub_database, household, "gitte@example.dk", "Gitte")
    made = ReminderBook(hub_database.engine).create(
        "ring til Gitte", _later(800), household_id=household, asked_by="relative", asked_by_name="Gitte"
    )
    device = _device(tmp_path, hub, credential)
    try:
        device.sync()
        (copy,) = ReminderBook(device.database.engine).all()
        assert ReminderBook(device.database.engine).delete(copy.id)  # "slet den" (agenda.py asks first)
        device.sync()
        assert ReminderBook(hub_database.engine).get(made.id) is None
        api = _signed_in(hub, "gitte@example.dk")
        assert api.get("/api/reminders").json() == []
        api.close()
        assert device.sync().pulled == 0  # the hub's tombstone finds nothing left to delete
    finally:
        device.close()


def test_a_device_adds_counts_only_under_its_own_pseudonym(hub_database: Database) -> None:
    from companion.hub.changes import receive_summary
    from companion.hub.devices import list_devices

    _h1, first_id, _c1 = household_with_device(hub_database, "Hanne")
    _h2, second_id, _c2 = household_with_device(hub_database, "Ida")
    first, second = (d for d in list_devices(hub_database.engine) if d.id in (first_id, second_id))
    week = {"2026-W10": {"turns": 3}}
    counted = {"schema": "companion-usage/1", "counted": True, "weeks": week}
    receive_summary(hub_database.engine, first, {**counted, "device": "hannespseudonym"}, "")
    # Another device can neither take those counts away nor add its own under more names than one.
    receive_summary(hub_database.engine, second, {**counted, "device": "idaspseudonym01"}, "hannespseudonym")
    receive_summary(hub_database.engine, second, {**counted, "device": "idaspseudonym02"}, "")
    with hub_database.engine.connect() as connection:
        kept = set(connection.scalars(select(fleet_weeks.c.pseudonym)))
    assert {"hannespseudonym", "idaspseudonym02"} <= kept and "idaspseudonym01" not in kept


def test_the_hubs_coordinator_page_leaves_households_to_the_hubs_commands(hub_database: Database) -> None:
    from fastapi.testclient import TestClient

    from companion.web.app import create_app

    from web_pages import add_account, csrf_of

    add_account(hub_database, "coordinator", "lone@hub.dk", utc_now())
    client = TestClient(create_app(hub_database, hub=True))
    client.post(
        "/login",
        data={"email": "lone@hub.dk", "password": PASSWORD, "csrf": csrf_of(client.get("/login").text)},
    )
    page = client.get("/catalogue").text
    assert "companion households" in page and "/catalogue/pairing-code" not in page
    assert client.post("/catalogue/pairing-code", data={"csrf": csrf_of(page)}).status_code == 404
    token = client.post("/api/session", json={"email": "lone@hub.dk", "password": PASSWORD}).json()["token"]
    answered = client.post("/api/pairing-code", headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 404 and answered.json()["detail"]["reason"] == "not_on_the_hub"


def test_text_the_hubs_database_cannot_hold_is_cleaned_not_failed_on(
    hub: HubProcess, hub_database: Database
) -> None:
    _household, device_id, credential = household_with_device(hub_database, "Jens")
    health = {
        "last_seen_utc": "2026-03-02T09:00:00",
        "microphone_ok": True,
        "models_ok": False,
        "problem": "a\x00b",
    }
    answer = httpx.post(
        f"{hub.url}/api/sync/health",
        json=health,
        headers={"Authorization": f"Bearer {credential}"},
        verify=hub.trust(),
    )
    assert answer.status_code == 200
    from companion.hub.changes import health_key
    from companion.store.health import latest

    found = latest(hub_database.engine, health_key(device_id))
    assert found is not None and found.problem == "ab"


def test_a_ca_file_that_cannot_be_read_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(HubError, match="ca_file") as refused:
        HubLink("https://hub.example.dk", "cdev_x", str(tmp_path / "missing.pem"))
    assert "CA certificate" in refused.value.fix


def test_a_working_sync_clears_what_an_earlier_run_left_for_the_doctor(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    from companion.hub.client import PROBLEM, REFUSED, HubSync
    from companion.hub.replica import keep_state, read_state

    _household, _device_id, credential = household_with_device(hub_database, "Karen")
    with Database(tmp_path) as device:
        keep_state(device.engine, PROBLEM, "The hub refused this device's credential.")
        keep_state(device.engine, REFUSED, "yes")
        link = HubLink(hub.url, credential, str(hub.certificate))
        sync = HubSync(device.engine, link, utc_now, lambda: utc_now().date())
        sync.round()
        link.close()
        assert (
            sync.problem == ""
            and read_state(device.engine, PROBLEM) == ""
            and read_state(device.engine, REFUSED) == ""
        )


def test_a_relatives_group_suggestion_on_the_hub_reaches_the_device_and_its_mention_comes_back(
    hub: HubProcess, hub_database: Database, tmp_path: Path
) -> None:
    from companion.store.household import mentioned, waiting_suggestions
    from companion.store.schema import group_suggestions

    group = _group("laesegruppen-hub", "Læsegruppen på biblioteket")
    save_group(hub_database.engine, group, "da", utc_now())
    household, _device_id, credential = household_with_device(hub_database, "Lis")
    relative_of(hub_database, household, "mads@example.dk", "Mads")
    api = _signed_in(hub, "mads@example.dk")
    assert api.post(f"/api/groups/{group.id}/suggest").status_code == 204
    device = _device(tmp_path, hub, credential)
    try:
        device.sync()
        (waiting,) = waiting_suggestions(device.database.engine, 1)
        assert (waiting.group_id, waiting.suggested_by) == (group.id, "Mads")  # "Mads foreslår Læsegruppen …"
        mentioned(device.database.engine, waiting.id, utc_now())
        device.sync()
        with hub_database.engine.connect() as connection:
            held = connection.scalars(
                select(group_suggestions.c.mentioned_utc).where(group_suggestions.c.household_id == household)
            ).all()
        assert len(held) == 1 and held[0] is not None
        # Mentioned: Mads may suggest it again later, and the device hears of it again.
        assert api.post(f"/api/groups/{group.id}/suggest").status_code == 204
        device.sync()
        assert [s.suggested_by for s in waiting_suggestions(device.database.engine, 1)] == ["Mads"]
    finally:
        api.close()
        device.close()
