"""The names the recogniser is nudged toward: which, how many, and kept fresh."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from companion.mind.catalogue import Relative
from companion.stages.hints import MOST_CHARACTERS, HintsKeeper, hearing_hints, household_hints
from companion.store.database import Database

from clocks import utc
from web_pages import add_account


def test_each_name_once_and_never_too_many() -> None:
    assert hearing_hints(["Anne", " Bo ", "anne", ""]) == "Anne, Bo"
    many = hearing_hints(f"Navn{n}" for n in range(100))
    assert len(many) <= MOST_CHARACTERS and many.endswith(many.split(", ")[-1])  # cut at a whole name


def test_a_relative_paired_on_the_web_page_is_heard_from_the_next_round(tmp_path: Path) -> None:
    given: list[str] = []
    with Database(tmp_path) as database:
        keeper = HintsKeeper(
            lambda: household_hints(database.engine, [Relative("Anne", "datter")]), given.append
        )
        keeper(datetime(2026, 3, 2, 9, 0))
        assert given == ["Anne"]  # at start, and not again while nothing changed
        add_account(database, "relative", "birthe@example.dk", utc("2026-03-02T09:00"), name="Birthe")
        keeper(datetime(2026, 3, 2, 9, 1))
        assert given == ["Anne", "Anne, Birthe"]
