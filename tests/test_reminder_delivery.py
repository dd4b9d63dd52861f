"""What a due reminder sounds like, in Danish: who asked, what, and for a group when and where."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from companion.content import load_phrases
from companion.mind.build import load_catalogue
from companion.mind.understand import load_language
from companion.reminders.book import ReminderBook
from companion.reminders.delivery import ReminderDesk
from companion.reminders.ledger import Ledger
from companion.reminders.scheduler import Scheduler
from companion.store.catalogue import seed_catalogue
from companion.store.database import Database

from clocks import ManualClock, utc

DIALOGS = Path(__file__).parent.parent / "dialogs"


@pytest.fixture
def desk() -> ReminderDesk:
    database = Database(None).open()
    catalogue = load_catalogue(DIALOGS, "da")
    seed_catalogue(database.engine, catalogue, "da")
    clock = ManualClock(utc("2026-03-02T08:00"))
    book = ReminderBook(database.engine, clock.now)
    ledger = Ledger(database.engine)
    scheduler = Scheduler(book, ledger, clock)
    phrases = load_phrases(DIALOGS, "da")
    return ReminderDesk(
        book, ledger, scheduler, phrases, load_language(DIALOGS, "da").time_words, catalogue.group
    )


def spoken(desk: ReminderDesk, at: str) -> list[str]:
    clock = desk.scheduler.clock
    assert isinstance(clock, ManualClock)
    clock.set(utc(at))
    desk.scheduler.tick()
    said = []
    while (announcement := desk.next_announcement()) is not None:
        said.append(announcement.text)
        desk.spoken(announcement)
    return said


def test_a_relatives_reminder_says_who_asked_and_asks_for_the_press(desk: ReminderDesk) -> None:
    desk.book.create("tag din medicin", datetime(2026, 3, 2, 9, 0), asked_by="relative", asked_by_name="Anne")
    assert spoken(desk, "2026-03-02T09:00") == [
        "Anne har bedt mig minde dig om noget: tag din medicin. Tryk på knappen, når du har hørt det."
    ]
    assert spoken(desk, "2026-03-02T09:05") == [
        "Jeg siger det lige en gang til. Anne har bedt mig minde dig om noget: tag din medicin. "
        "Tryk på knappen, når du har hørt det."
    ]


def test_the_persons_own_reminder_and_one_without_a_matter(desk: ReminderDesk) -> None:
    desk.book.create("at ringe til Lone", datetime(2026, 3, 2, 9, 0))
    desk.book.create(load_phrases(DIALOGS, "da").say("reminder_bare_what"), datetime(2026, 3, 2, 10, 0))
    assert spoken(desk, "2026-03-02T09:00")[0].startswith("Du bad mig minde dig om at ringe til Lone.")
    desk.ledger.acknowledge(utc("2026-03-02T09:01"))
    assert spoken(desk, "2026-03-02T10:00")[0].startswith("Du bad mig give dig besked nu.")


def test_a_group_session_says_when_and_where_and_who_asked_for_it(desk: ReminderDesk) -> None:
    desk.book.create("Skærmkaffe", datetime(2026, 3, 2, 14, 0), group_id="skaermkaffe")
    desk.book.create(
        "Læsegruppe", datetime(2026, 3, 2, 15, 0), group_id="laesegruppe-valby", asked_by="relative",
        asked_by_name="Anne",
    )  # fmt: skip
    online, physical = spoken(desk, "2026-03-02T09:00")
    assert online.startswith("I dag klokken 14 er der Skærmkaffe. Det foregår på skærmen")
    assert physical.startswith("Anne har bedt mig minde dig om det her. I dag klokken 15 mødes")
    assert "Stedet er" in physical
