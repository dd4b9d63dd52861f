"""The reminder book: bad input refused with a reason and nothing half-saved; and reminders by voice — made,
listed for today, found by their words and deleted after a yes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from companion.errors import ReminderError
from companion.mind.build import assemble_mind, load_catalogue
from companion.mind.catalogue import Catalogue
from companion.mind.memory import MemoryStore
from companion.reminders.book import ReminderBook
from companion.store.database import Database
from companion.store.schema import occurrences, reminders

from clocks import utc
from minds import MONDAY_MORNING, Clock, make_mind, say

DIALOGS = Path(__file__).parent.parent / "dialogs"

NOW = utc("2026-03-02T09:00")  # a Monday morning, like the minds' clock


@pytest.fixture
def book() -> ReminderBook:
    return ReminderBook(Database(None).open().engine, lambda: NOW)


def count(book: ReminderBook) -> int:
    with book.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(reminders)) or 0) + int(
            connection.scalar(select(func.count()).select_from(occurrences)) or 0
        )


@pytest.mark.parametrize(
    ("text", "at", "rule", "reason"),
    [
        ("tandlæge", "2026-03-01T10:00", None, "in the past"),
        ("tandlæge", "2026-02-30T10:00", None, "not a date and time that exists"),
        ("tandlæge", "2026-03-29T02:30", None, "does not exist: the clocks jump"),
        ("", "2026-03-03T10:00", None, "no text"),
        ("   ", "2026-03-03T10:00", None, "no text"),
        ("x" * 5000, "2026-03-03T10:00", None, "5,000 characters"),
        ("medicin", "2026-03-03T10:00", "FREQ=SECONDLY", "far too often"),
        ("medicin", "2026-03-03T10:00", "FREQ=MINUTELY;INTERVAL=30", "far too often"),
        ("medicin", "2026-03-03T10:00", "FREQ=HOURLY;INTERVAL=2", "every hour, also through the night"),
        ("medicin", "2026-03-03T10:00", "FREQ=DAILY;BYHOUR=8;BYMINUTE=0,30", "more often than once an hour"),
        ("medicin", "2026-03-03T10:00", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("medicin", "2026-03-03T10:00", "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31", "never fires"),
        ("medicin", "2026-03-03T10:00", "FREQ=DAILY;COUNT=0", "never remind"),
        ("medicin", "2026-03-03T10:00", "FREQ=DAILY;UNTIL=20260101T000000", "never reminds again"),
        ("medicin", "2026-03-03T10:00", "FREQ=DAILY;BYSETPOS=1", "BYSETPOS"),
        ("medicin", "2026-03-03T10:00", "FREQ=FORTNIGHTLY", "FREQ must be"),
        ("medicin", "2026-03-03T10:00", "every day", "not an RFC 5545 RRULE"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_nothing_is_saved(
    book: ReminderBook, text: str, at: str, rule: str | None, reason: str
) -> None:
    with pytest.raises(ReminderError, match=reason):
        book.create(text, at, rrule=rule)
    assert count(book) == 0


def test_a_relatives_reminder_needs_their_name_and_an_unknown_group_is_refused(book: ReminderBook) -> None:
    with pytest.raises(ReminderError, match="needs their name"):
        book.create("tag medicin", "2026-03-03T10:00", asked_by="relative")
    with pytest.raises(ReminderError, match="no group 'strikkeklub'"):
        book.create("strik", "2026-03-03T10:00", group_id="strikkeklub")
    assert count(book) == 0


def test_a_weekly_reminder_is_found_on_its_days_in_wall_time(book: ReminderBook) -> None:
    book.create("tag medicin", "2026-03-02T08:00", rrule="FREQ=WEEKLY;BYDAY=MO,TH", asked_by="relative",
                asked_by_name="Anne")  # fmt: skip
    monday = book.on_day(date(2026, 3, 30))  # the day after the clocks went forward
    assert [(wall.hour, r.asked_by_name) for wall, r in monday] == [(8, "Anne")]
    assert book.on_day(date(2026, 3, 31)) == []


def test_reminders_made_by_voice_land_in_the_database_and_today_lists_them() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    book = mind.rules.agenda.book
    book.create("ringe til lægen", datetime(2026, 3, 2, 13, 0), asked_by="relative", asked_by_name="Anne")
    _, outcomes = say(mind, "Mind mig om at tage medicin i dag klokken 15.")
    assert "reminder_created:2026-03-02T15:00" in outcomes
    reply, outcomes = say(mind, "Hvad skal jeg i dag?")
    assert "I dag klokken 13 skal du huske ringe til lægen." in reply
    assert "I dag klokken 15 skal du huske at tage medicin." in reply
    assert [r.text for r in book.all()] == ["ringe til lægen", "at tage medicin"]


def test_a_reminder_named_by_its_words_is_deleted_only_after_a_yes() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    book = mind.rules.agenda.book
    book.create("tandlægen", datetime(2026, 3, 6, 10, 0), asked_by="relative", asked_by_name="Anne")
    reply, outcomes = say(mind, "Slet påmindelsen om tandlægen.")
    assert reply == "Skal jeg slette påmindelsen om tandlægen på fredag klokken 10?"
    assert len(book.all()) == 1
    _, outcomes = say(mind, "Nej, lad den være.")
    assert "reminder_kept" in outcomes and len(book.all()) == 1
    clock.now += timedelta(minutes=1)
    say(mind, "Slet påmindelsen om tandlæge")
    _, outcomes = say(mind, "Ja.")
    assert "reminder_cancelled" in outcomes and book.all() == []


def test_a_deletion_naming_nothing_known_asks_which_one() -> None:
    mind = make_mind()
    mind.rules.agenda.book.create("frisør", datetime(2026, 3, 6, 10, 0))
    _, outcomes = say(mind, "Slet påmindelsen om fodterapeuten.")
    assert "clarifies" in outcomes and len(mind.rules.agenda.book.all()) == 1


def test_deleting_by_words_never_takes_the_wrong_reminder() -> None:
    mind = make_mind()
    book = mind.rules.agenda.book
    book.create("at ringe til lægen", datetime(2026, 3, 3, 9, 0))
    say(mind, "Mind mig om at ringe til Anne i morgen klokken ti.")
    say(mind, "Ja.")
    _, outcomes = say(mind, "Slet påmindelsen om frisøren.")
    assert "clarifies" in outcomes and len(book.all()) == 2  # not the one just made instead
    reply, _ = say(mind, "Slet påmindelsen om at ringe til lægen.")
    assert reply.startswith("Skal jeg slette påmindelsen om at ringe til lægen")  # more words in common


def test_today_is_only_today_not_tomorrow_at_midnight() -> None:
    clock = Clock(datetime(2026, 3, 2, 20, 0, tzinfo=MONDAY_MORNING.tzinfo))
    mind = make_mind(clock=clock)
    mind.rules.agenda.book.create("tag pillerne", datetime(2026, 3, 3, 0, 0))
    reply, _ = say(mind, "Hvad skal jeg i dag?")
    assert "pillerne" not in reply


def test_a_course_whose_calendar_has_ended_is_neither_today_nor_suggested() -> None:
    shipped = load_catalogue(DIALOGS, "da")
    course = replace(shipped.groups[0], id="kursus", name="IT-kurset", rrule="FREQ=WEEKLY;COUNT=2")
    course = replace(course, first_day=date(2026, 2, 2))  # two Mondays in February: over by March
    clock = Clock()
    mind = assemble_mind(DIALOGS, "da", Catalogue((course, *shipped.groups)), MemoryStore(), clock)
    _, outcomes = say(mind, "Hvad skal jeg i dag?")
    assert "answers_today" in outcomes
    reply, outcomes = say(mind, "Hvornår er IT-kurset?")
    assert "slut for denne gang" in reply and "answers_schedule:kursus" in outcomes
