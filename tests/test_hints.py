"""The names and phrases the recogniser is nudged toward: which, in what order, how many, and kept fresh."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from companion.mind.build import load_catalogue
from companion.mind.catalogue import Relative
from companion.stages.hints import (
    MOST_CHARACTERS,
    HintsKeeper,
    hearing_hints,
    household_hints,
    listened_phrases,
)
from companion.store.database import Database

from clocks import utc
from web_pages import add_account

DIALOGS = Path(__file__).parent.parent / "dialogs"


def test_names_come_first_then_groups_and_places_then_phrases_each_once_and_never_too_many() -> None:
    groups = load_catalogue(DIALOGS, "da").groups
    hints = hearing_hints(["Anne", "Bo", "anne"], groups, listened_phrases(DIALOGS, "da"))
    entries = hints.split(", ")
    assert entries[:3] == ["Anne", "Bo", "Skærmkaffe"]
    assert (
        "Læsegruppen på Valby Bibliotek" in entries and "Valby Bibliotek" in entries
    )  # a group and its place
    assert "On the telephone" not in hints and len(hints) <= MOST_CHARACTERS
    assert len(entries) == len({entry.lower() for entry in entries})
    assert "mind mig om" in listened_phrases(DIALOGS, "da") and "remind me" in listened_phrases(DIALOGS, "en")


def test_a_relative_paired_on_the_web_page_is_heard_from_the_next_round(tmp_path: Path) -> None:
    given: list[str] = []
    with Database(tmp_path) as database:
        keeper = HintsKeeper(
            lambda: household_hints(database.engine, [Relative("Anne", "datter")], (), ()), given.append
        )
        keeper(datetime(2026, 3, 2, 9, 0))
        assert given == ["Anne"]  # at start, and not again while nothing changed
        add_account(database, "relative", "birthe@example.dk", utc("2026-03-02T09:00"), name="Birthe")
        keeper(datetime(2026, 3, 2, 9, 1))
        assert given == ["Anne", "Anne, Birthe"]
