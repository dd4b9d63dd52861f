"""The group catalogue in the database: seeding from dialogs/, .ics import, and `companion catalogue`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event
from sqlalchemy import Engine, func, select, update

from companion import cli
from companion.catalogue_commands import register, remote_places
from companion.errors import SettingsError
from companion.mind.build import load_catalogue
from companion.mind.catalogue import COPENHAGEN, Catalogue, parse_group
from companion.settings import Settings
from companion.store.catalogue import load_catalogue_from_db, seed_catalogue
from companion.store.database import Database
from companion.store.ics import group_id_of, import_ics
from companion.store.schema import groups

from minds import DIALOGS

UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
PLACES = remote_places(Settings(), "da")
BEFORE_ALL = datetime(2026, 1, 1, tzinfo=COPENHAGEN)
"""The import's `now` in these tests: before every session the test calendars hold."""


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Database(None) as database:
        yield database.engine


def shipped() -> Catalogue:
    return load_catalogue(DIALOGS, "da")


def event(uid: str, summary: str | None = "Strikkeklubben", **properties: Any) -> Event:
    """A VEVENT; properties as icalendar's add() takes them (dtstart=…, rrule={…}, exdate=[…])."""
    made = Event()
    made.add("uid", uid)
    if summary is not None:
        made.add("summary", summary)
    for name, value in properties.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            made.add(name.replace("_", "-"), value[0], parameters=value[1])
        else:
            made.add(name.replace("_", "-"), value)
    return made


def ics(*events: Event) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//companion tests//")
    calendar.add("version", "2.0")
    for one in events:
        calendar.add_component(one)
    data: bytes = calendar.to_ical()
    return data


def weekly_knitting() -> Event:
    """Thursdays 14:00 Copenhagen, written in UTC in winter, with 2 April (after the clocks go forward)
    cancelled by an EXDATE also in UTC."""
    return event(
        "strik-2026@valby.dk",
        dtstart=datetime(2026, 3, 19, 13, 0, tzinfo=UTC),
        dtend=datetime(2026, 3, 19, 15, 0, tzinfo=UTC),
        rrule={"freq": "weekly"},
        exdate=[datetime(2026, 4, 2, 12, 0, tzinfo=UTC)],
        location="Valby Bibliotek",
        categories=["Strikning", "Hygge"],
        organizer=("mailto:lone@example.dk", {"cn": "Lone på biblioteket"}),
    )


def biweekly_walk() -> Event:
    return event(
        "gaatur",
        "Gåturen",
        dtstart=datetime(2026, 1, 7, 10, 0, tzinfo=COPENHAGEN),
        duration=timedelta(minutes=90),
        rrule={"freq": "weekly", "interval": 2},
        location="Valbyparken",
    )


def rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(groups).order_by(groups.c.id))]


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=COPENHAGEN)


# -- seeding -------------------------------------------------------------------------------------------


def test_seeding_is_idempotent_and_follows_the_shipped_file(engine: Engine) -> None:
    catalogue = shipped()
    assert seed_catalogue(engine, catalogue, "da") == len(catalogue.groups)
    assert seed_catalogue(engine, catalogue, "da") == 0

    first, second, *rest = catalogue.groups
    edited = Catalogue((replace(first, description="Ny beskrivelse."), *rest))
    assert seed_catalogue(engine, edited, "da") == 2  # one changed, one gone (retired)
    assert seed_catalogue(engine, edited, "da") == 0
    loaded = {group.id: group for group in load_catalogue_from_db(engine, "da")}
    assert loaded[first.id].description == "Ny beskrivelse."
    assert second.id not in loaded


def test_seeding_never_overwrites_an_imported_or_a_coordinators_row(engine: Engine) -> None:
    knitting = next(g for g in shipped().groups if g.id == "strikkecafe")
    ours = event(
        knitting.id, "Vores strikkecafé", dtstart=datetime(2026, 3, 5, 14, 0), rrule={"freq": "weekly"}
    )
    ours.add("location", "Medborgerhuset")
    seed_catalogue(engine, shipped(), "da")
    import_ics(engine, ics(ours), "da", remote_places=PLACES, now=BEFORE_ALL)
    with engine.begin() as connection:
        connection.execute(
            update(groups).where(groups.c.id == "samtaleven").values(source="coordinator", contact="Jens")
        )
    before = rows(engine)

    seed_catalogue(engine, shipped(), "da")

    assert rows(engine) == before
    loaded = {group.id: group for group in load_catalogue_from_db(engine, "da")}
    assert loaded["strikkecafe"].name == "Vores strikkecafé"
    assert loaded["samtaleven"].contact == "Jens"


def test_the_database_gives_back_the_shipped_groups(engine: Engine) -> None:
    catalogue = shipped()
    seed_catalogue(engine, catalogue, "da")
    expected = tuple(sorted(catalogue.groups, key=lambda group: (group.name, group.id)))
    assert load_catalogue_from_db(engine, "da") == expected
    assert load_catalogue_from_db(engine, "en") == ()


# -- the rule anchored at its first day ----------------------------------------------------------------


def test_first_day_anchors_an_every_other_week_rule() -> None:
    entry = {"id": "x", "name": "X", "description": "d", "place": "p", "contact": "c", "start": "10:00"}
    group = parse_group({**entry, "rrule": "FREQ=WEEKLY;INTERVAL=2", "first_day": "2026-01-07"}, "test")
    assert group.first_day == date(2026, 1, 7)
    for now in (at(2026, 1, 8), at(2026, 1, 15), at(2026, 1, 21, 10), at(2026, 6, 1)):
        weeks = (group.next_session(now).date() - date(2026, 1, 7)).days / 7
        assert weeks == int(weeks) and int(weeks) % 2 == 0


# -- import ----------------------------------------------------------------------------------------------


def test_a_weekly_rule_in_utc_keeps_its_copenhagen_wall_time_and_skips_its_exdate(engine: Engine) -> None:
    (group,) = import_ics(engine, ics(weekly_knitting()), "da", remote_places=PLACES, now=BEFORE_ALL)

    assert group.id == "strik-2026-valby-dk"
    assert (group.start, group.first_day, group.minutes) == (time(14, 0), date(2026, 3, 19), 120)
    assert "EXDATE:20260402T140000" in group.rrule.splitlines()
    assert group.next_session(at(2026, 3, 20)) == at(2026, 3, 26, 14)  # winter time, UTC+1
    after_dst = group.next_session(at(2026, 3, 27))
    assert after_dst == at(2026, 4, 9, 14)  # 2 April cancelled; 14:00 summer time, UTC+2
    assert after_dst.utcoffset() == timedelta(hours=2)
    assert (group.interests, group.place, group.contact) == (
        ("strikning", "hygge"),
        "Valby Bibliotek",
        "Lone på biblioteket",
    )
    assert (group.format, group.kind) == ("physical", "group")
    assert load_catalogue_from_db(engine, "da") == (group,)


def test_an_exdate_from_a_calendar_that_recurs_in_utc_still_cancels_that_day(engine: Engine) -> None:
    knitting = weekly_knitting()
    knitting.pop("EXDATE")
    knitting.add("exdate", [datetime(2026, 4, 2, 13, 0, tzinfo=UTC)])  # 15:00 in Copenhagen
    (group,) = import_ics(engine, ics(knitting), "da", remote_places=PLACES, now=BEFORE_ALL)
    assert group.next_session(at(2026, 3, 27)) == at(2026, 4, 9, 14)


def test_an_every_other_week_rule_meets_in_the_right_weeks(engine: Engine) -> None:
    (walk,) = import_ics(engine, ics(biweekly_walk()), "da", remote_places=PLACES, now=BEFORE_ALL)
    assert walk.minutes == 90
    assert walk.next_session(at(2026, 1, 8)) == at(2026, 1, 21, 10)
    assert walk.next_session(at(2026, 1, 22)) == at(2026, 2, 4, 10)
    assert walk.next_session(at(2026, 1, 14)) != at(2026, 1, 14, 10)
    assert walk.next_session(at(2026, 11, 26)) == at(2026, 12, 9, 10)  # 48 weeks on, across both changes


def test_a_one_off_event_in_another_zone_becomes_one_session(engine: Engine) -> None:
    concert = event(
        "koncert", "Forårskoncert", dtstart=datetime(2026, 5, 1, 9, 0, tzinfo=LONDON), location="Kirken"
    )
    (group,) = import_ics(engine, ics(concert), "da", remote_places=PLACES, now=BEFORE_ALL)
    assert group.rrule == "RDATE:20260501T100000"
    assert (group.start, group.minutes, group.contact) == (time(10, 0), 60, "Kirken")
    assert group.next_session(at(2026, 4, 1)) == at(2026, 5, 1, 10)
    with pytest.raises(SettingsError, match="no more sessions"):
        group.next_session(at(2026, 5, 2))


def test_a_link_as_location_makes_an_online_group_the_device_can_speak_of(engine: Engine) -> None:
    coffee = event(
        "skaermkaffe-2",
        "Skærmkaffe",
        description="Kaffe over skærmen.",
        dtstart=datetime(2026, 2, 3, 10, 0),  # floating: already Copenhagen wall time
        rrule={"freq": "weekly", "byday": ["TU", "FR"]},
        location="https://meet.example.dk/kaffe",
        contact="Lone i Frivillighedshuset",
    )
    (group,) = import_ics(
        engine, ics(coffee), "da", remote_places=PLACES, interests=["Kaffe", "snak"], now=BEFORE_ALL
    )
    assert (group.format, group.place) == ("online", "På skærmen, hjemme hos dig selv")
    assert (group.description, group.contact) == ("Kaffe over skærmen.", "Lone i Frivillighedshuset")
    assert group.interests == ("kaffe", "snak")
    assert group.next_session(at(2026, 2, 4)) == at(2026, 2, 6, 10)
    (phone,) = import_ics(engine, ics(coffee), "da", remote_places=PLACES, format_="phone", now=BEFORE_ALL)
    assert (phone.format, phone.place) == ("phone", "I telefonen, hjemme hos dig selv")


def test_a_moved_session_and_a_cancelled_series(engine: Engine) -> None:
    moved = event(
        "strik-2026@valby.dk",
        recurrence_id=datetime(2026, 3, 26, 13, 0, tzinfo=UTC),
        dtstart=datetime(2026, 3, 27, 10, 0, tzinfo=COPENHAGEN),
    )
    (group,) = import_ics(engine, ics(weekly_knitting(), moved), "da", remote_places=PLACES, now=BEFORE_ALL)
    assert group.next_session(at(2026, 3, 20)) == at(2026, 3, 27, 10)

    stopped = weekly_knitting()
    stopped.add("status", "CANCELLED")
    assert import_ics(engine, ics(stopped), "da", remote_places=PLACES, now=BEFORE_ALL) == []
    assert load_catalogue_from_db(engine, "da") == ()


def test_importing_again_updates_the_same_rows(engine: Engine) -> None:
    import_ics(engine, ics(weekly_knitting(), biweekly_walk()), "da", remote_places=PLACES, now=BEFORE_ALL)
    renamed = weekly_knitting()
    renamed["SUMMARY"] = "Strik og snak"
    import_ics(engine, ics(renamed), "da", remote_places=PLACES, now=BEFORE_ALL)

    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(groups)).scalar() == 2
    names = [group.name for group in load_catalogue_from_db(engine, "da")]
    assert names == ["Gåturen", "Strik og snak"]
    with engine.connect() as connection:
        assert set(connection.scalars(select(groups.c.source))) == {"ics"}


def test_long_uids_give_distinct_short_ids() -> None:
    a, b = "A" * 100 + "@outlook.com", "A" * 99 + "B@outlook.com"
    assert group_id_of(a) != group_id_of(b)
    assert all(len(group_id_of(uid)) <= 64 for uid in (a, b))
    assert group_id_of("Gåtur i Søndermarken") == "gaatur-i-soendermarken"


def _without_summary() -> Event:
    return event("x1", None, dtstart=datetime(2026, 3, 5, 10, 0), location="Her")


BAD_EVENTS: list[tuple[Callable[[], Event], str]] = [
    (lambda: event("x1", "Uden tid", location="Her"), "'Uden tid'.*no DTSTART"),
    (_without_summary, "'x1'.*no SUMMARY"),
    (lambda: event("x1", "Hele dagen", dtstart=date(2026, 3, 5), location="Her"), "all-day"),
    (
        lambda: event(
            "x1", "Hvert minut", dtstart=datetime(2026, 3, 5, 10), rrule={"freq": "minutely"}, location="Her"
        ),
        "'Hvert minut'.*every minute",
    ),
    (
        lambda: event(
            "x1",
            "Forbi",
            dtstart=datetime(2025, 3, 5, 10),
            rrule={"freq": "weekly", "until": datetime(2025, 6, 1)},
            location="Her",
        ),
        "'Forbi' has no session after today",
    ),
    (lambda: event("x1", "Engang", dtstart=datetime(2025, 3, 5, 10), location="Her"), "no session after"),
    (lambda: event("x1", "Intetsteds", dtstart=datetime(2026, 3, 5, 10)), "no LOCATION"),
]


@pytest.mark.parametrize(("make_bad", "reason"), BAD_EVENTS)
def test_one_bad_event_refuses_the_whole_file(
    engine: Engine, make_bad: Callable[[], Event], reason: str
) -> None:
    seed_catalogue(engine, shipped(), "da")
    import_ics(engine, ics(biweekly_walk()), "da", remote_places=PLACES, now=BEFORE_ALL)
    before = rows(engine)
    renamed_walk = biweekly_walk()
    renamed_walk["SUMMARY"] = "Omdøbt"

    with pytest.raises(SettingsError, match=reason):
        import_ics(
            engine,
            ics(weekly_knitting(), renamed_walk, make_bad()),
            "da",
            remote_places=PLACES,
            now=BEFORE_ALL,
        )

    assert rows(engine) == before


def test_a_file_that_is_not_a_calendar_is_refused(engine: Engine) -> None:
    with pytest.raises(SettingsError, match="not an iCalendar file"):
        import_ics(engine, b"BEGIN:VCALENDAR\nthis is not ical", "da", remote_places=PLACES)
    with pytest.raises(SettingsError, match="no events"):
        import_ics(engine, ics(), "da", remote_places=PLACES)
    with pytest.raises(SettingsError, match="format"):
        import_ics(engine, ics(biweekly_walk()), "da", remote_places=PLACES, format_="carrier pigeon")


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """`companion --config … ARGS` on a data directory of its own, with `catalogue` registered."""
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path / "data"}"\nlanguage = "da"\n')
    built_in = cli.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = built_in()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "catalogue" not in commands.choices:
            register(commands)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)

    def run(*args: str) -> int:
        return cli.main(["--config", str(config), *args])

    return run


def test_the_cli_imports_and_lists(
    run_cli: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calendar = tmp_path / "grupper.ics"
    calendar.write_bytes(ics(weekly_knitting(), biweekly_walk()))
    assert run_cli("catalogue", "import", str(calendar), "--interests", "strik", "gå") == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["strik-2026-valby-dk", "gaatur"]
    assert "next session" in printed[0] and "14:00 (Copenhagen time)" in printed[0]

    assert run_cli("catalogue", "list") == 0
    listed = capsys.readouterr().out
    assert "strik-2026-valby-dk" in listed and "Strikkeklubben" in listed
    lines = {line.split()[0]: line for line in listed.splitlines()[1:]}
    assert lines["gaatur"].endswith("ics") and lines["laesegruppe-valby"].endswith("shipped")
    assert len(lines) == len(shipped().groups) + 2


def test_the_cli_refuses_a_bad_file_with_exit_1(
    run_cli: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calendar = tmp_path / "grupper.ics"
    calendar.write_bytes(ics(biweekly_walk(), event("x1", "Uden tid", location="Her")))
    assert run_cli("catalogue", "import", str(calendar), "--format", "physical") == 1
    error = capsys.readouterr().err
    assert "Nothing was imported" in error and "'Uden tid'" in error and "DTSTART" in error
    assert run_cli("catalogue", "import", str(tmp_path / "missing.ics")) == 1
    assert "Cannot read" in capsys.readouterr().err
    assert run_cli("catalogue") == 0
    assert "gaatur" not in capsys.readouterr().out


def test_a_group_changed_in_the_database_reaches_the_running_mind(engine: Engine) -> None:
    """Pulled from the hub or saved on the coordinator's page (another process): the companion speaks of it
    from the scheduler's next round, without a restart."""
    from companion.mind.build import assemble_mind
    from companion.mind.catalogue import Group
    from companion.mind.memory import MemoryStore
    from companion.reminders.book import ReminderBook
    from companion.store.catalogue import CatalogueWatch, save_group

    from minds import DIALOGS as SHIPPED
    from minds import Clock, say

    mind = assemble_mind(SHIPPED, "da", Catalogue(()), MemoryStore(), Clock(), reminders=ReminderBook(engine))
    rules = mind.rules
    watch = CatalogueWatch(engine, "da", lambda groups: rules.use_catalogue(Catalogue(groups)))
    watch(datetime(2026, 3, 2, 9, 0))
    # No group yet at all: said plainly, not "Jeg kender for eksempel ." with nothing named.
    assert say(mind, "Hvornår mødes Havelauget?")[0] == (
        "Den gruppe kender jeg desværre ikke. Jeg kender ingen grupper endnu. "
        "Spørg kommunen, hvad der findes i nærheden."
    )
    new = Group(
        id="havelauget",
        name="Havelauget",
        description="Vi passer bedene sammen.",
        interests=("have", "blomster"),
        format="physical",
        place="Fælledhaven",
        rrule="FREQ=WEEKLY;BYDAY=TH",
        start=time(10, 0),
        minutes=120,
        contact="Hanne",
    )
    save_group(engine, new, "da", datetime(2026, 3, 2, 9, 5))
    watch(datetime(2026, 3, 2, 9, 6))
    assert rules.agenda.catalogue is rules.catalogue and rules.index.catalogue is rules.catalogue
    reply, _outcomes = say(mind, "Hvornår mødes Havelauget?")
    assert reply.startswith("Havelauget mødes næste gang på torsdag klokken 10.")
