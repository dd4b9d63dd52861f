"""The hub's fleet report: added up in SQL on PostgreSQL, it shows exactly what a device's report shows for
the same summaries — the same cells, the same suppression, the same noise — and a period, once released,
never changes."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks.private_postgres import Server
from companion.hub.changes import keep_counts
from companion.hub.fleet import fleet_cohort
from companion.store.database import Database, writing
from companion.usage.measures import MEASURES
from companion.usage.noise import noise_for
from companion.usage.store import iso_week
from companion.usage.summary import (
    LONELINESS,
    SCHEMA,
    Cohort,
    cohort,
    key_of,
    last_weeks,
    scale_quarters,
    weeks_of_quarters,
)

TODAY = date(2026, 3, 4)  # week 10: the weeks shown reach back into the last quarter of 2025
NOW = datetime(2026, 3, 4, 12, 0)
WEEKS = last_weeks(TODAY, 8)


def _summaries(devices: int, seed: int) -> list[dict[str, Any]]:
    """Devices' weekly counts at random: some cells small, some over the noise's bounds, scores in the last
    quarter."""
    chance = random.Random(seed)
    keys = [key_of(m, d) for m, details in MEASURES.items() if m != LONELINESS for d in details]
    scale_weeks = weeks_of_quarters(scale_quarters(WEEKS))
    made = []
    for number in range(devices):
        weeks: dict[str, dict[str, int]] = {}
        for week in WEEKS:
            if chance.random() < 0.8:
                picked = chance.sample(keys, chance.randint(1, 8))
                weeks[week] = {key: chance.choice([0, 1, 2, 5, 40, 400]) for key in picked}
        for week in chance.sample(scale_weeks, chance.randint(0, 2)):
            weeks.setdefault(week, {})[key_of(LONELINESS, str(chance.randint(3, 9)))] = 1
        weeks.setdefault(WEEKS[-1], {})["turns"] = chance.randint(1, 50)  # every device used it lately
        made.append({"schema": SCHEMA, "counted": True, "device": f"pseudonym{number:04d}", "weeks": weeks})
    return made


def _kept(hub: Database, summary: dict[str, Any]) -> None:
    """As the hub keeps a device's summary (receive_summary, after it checked whose it is)."""
    with writing(hub.engine) as connection:
        keep_counts(connection, summary)


def _cells(table: Cohort) -> list[tuple[str, str, int, int, bool]]:
    return [(period, key, cell.people, cell.total, cell.suppressed) for period, key, cell in table.rows()]


@pytest.mark.parametrize("devices", [4, 60])
def test_the_fleet_in_sql_is_the_report_of_a_device_for_the_same_summaries(
    postgres_server: Server, devices: int
) -> None:
    summaries = _summaries(devices, seed=devices)
    with Database(None, url=postgres_server.create_database()) as hub:
        for summary in summaries:
            _kept(hub, summary)
        fleet = fleet_cohort(hub.engine, WEEKS, iso_week(TODAY), 5, NOW)
    expected = cohort(summaries, WEEKS, 5)
    assert fleet.devices == expected.devices == devices
    assert _cells(fleet) == _cells(expected)
    if devices >= 5:
        assert any(not cell.suppressed and cell.people > 0 for _p, _k, cell in fleet.rows())
        assert any(cell.suppressed for _p, _k, cell in fleet.rows())  # small cells there are, and hidden


def test_with_noise_the_fleet_clips_and_noises_exactly_as_a_device_report(
    postgres_server: Server, tmp_path: Path
) -> None:
    pytest.importorskip("opendp")
    summaries = _summaries(40, seed=7)
    noise = noise_for(1.0, tmp_path)
    assert noise is not None
    with Database(None, url=postgres_server.create_database()) as hub, noise:
        for summary in summaries:
            _kept(hub, summary)
        fleet = fleet_cohort(hub.engine, WEEKS, iso_week(TODAY), 5, NOW, noise)
        # The same true numbers draw the same noise from the ledger: equal only if clipped alike.
        expected = cohort(summaries, WEEKS, 5, noise)
    assert fleet.noise_epsilon == 1.0
    assert _cells(fleet) == _cells(expected)


def test_a_released_week_never_changes_when_late_summaries_arrive(postgres_server: Server) -> None:
    summaries = _summaries(30, seed=3)
    with Database(None, url=postgres_server.create_database()) as hub:
        for summary in summaries:
            _kept(hub, summary)
        first = fleet_cohort(hub.engine, WEEKS, iso_week(TODAY), 5, NOW)
        late = {
            "schema": SCHEMA,
            "counted": True,
            "device": "latecomer0001",
            "weeks": {week: {"turns": 7, "conversations/short": 2} for week in WEEKS},
        }
        _kept(hub, late)
        second = fleet_cohort(hub.engine, WEEKS, iso_week(TODAY), 5, NOW)
    shown_first, shown_second = _cells(first), _cells(second)
    this_week = WEEKS[-1]
    # Ended weeks and quarters: released at the first look, shown as they were.
    assert [c for c in shown_second if c[0] != this_week] == [c for c in shown_first if c[0] != this_week]
    # The week still running is counted afresh.
    assert second.cells[this_week]["turns"].people == first.cells[this_week]["turns"].people + 1


def test_devices_long_gone_do_not_count_toward_showing_a_lone_devices_numbers(
    postgres_server: Server,
) -> None:
    """Ten devices that sent counts a year ago and one that sends now: the one is alone in the weeks shown,
    so every number of theirs is hidden — as a device's own report would hide them."""
    lone = _summaries(1, seed=5)
    gone = [
        {"schema": SCHEMA, "counted": True, "device": f"longgone{n:04d}", "weeks": {"2025-W01": {"turns": 9}}}
        for n in range(10)
    ]
    with Database(None, url=postgres_server.create_database()) as hub:
        for summary in [*lone, *gone]:
            _kept(hub, summary)
        fleet = fleet_cohort(hub.engine, WEEKS, iso_week(TODAY), 5, NOW)
    assert fleet.devices == 1
    assert all(cell.suppressed for _p, _k, cell in fleet.rows())
