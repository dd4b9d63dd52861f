"""Summaries: one device's counts per ISO week (exported to the municipality), and a cohort's across many
devices, where no cell small enough to single a person out is shown.

A cohort cell is (week, measure, detail) with the number of people (devices) behind it and their total.
A cell of fewer than `min_people` people is suppressed; so is a second cell wherever a suppressed one could
be worked out from a total and the other parts (complementary suppression).

Every measure has a cell every week, zeros too: that a number is there must not say someone had it.

The loneliness scale is asked once a quarter, so its scores are shown by calendar quarter — each person's
latest score in the quarter, once — never week by week, and only once the quarter has ended: a quarter
still running would change with each new answer, and two reports a day apart would tell that answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from companion.errors import CompanionError
from companion.usage.measures import LENGTHS, LONELINESS_SCORES, MEASURES, STAGES, SUGGESTION_KINDS
from companion.usage.noise import Noise
from companion.usage.store import consent_of, iso_week, quarter_of, weekly_counts

SCHEMA = "companion-usage/1"
LOWEST_MIN_PEOPLE = 3
"""No setting may show a cell of fewer people than this."""
COUNT_AT_MOST = 2**31 - 1
"""A count larger than a database's integer is not a device's."""
TOTAL = "total"
"""The detail of a measure's total over its details (e.g. every suggestion offered, of any kind)."""


def key_of(measure: str, detail: str) -> str:
    return f"{measure}/{detail}" if detail else measure


LINKED: Mapping[str, tuple[tuple[str, str], ...]] = {
    **{
        measure: tuple((measure, kind) for kind in SUGGESTION_KINDS)
        for measure in ("suggestions_offered", "suggestions_accepted", "suggestions_declined")
    },
    "conversations": tuple(("conversations", length) for length in LENGTHS),
    "errors": tuple(("errors", stage) for stage in STAGES),
    "reminders_delivered": (("reminders_acknowledged", ""), ("reminders_missed", "")),
}
"""A total and the parts that add up to it (about): a part must not be left alone suppressed beside them."""
LONELINESS = "loneliness_score"
SCALE_LINKED: Mapping[str, tuple[tuple[str, str], ...]] = {
    LONELINESS: tuple((LONELINESS, score) for score in LONELINESS_SCORES)
}
WEEKLY_KEYS = (
    "used",
    *(key_of(m, d) for m, details in MEASURES.items() if m != LONELINESS for d in details),
    *(key_of(m, TOTAL) for m in LINKED if m != "reminders_delivered"),
)
"""Every cell of a week, in every report: a cell that appeared only when someone had it would tell."""


class SummaryError(CompanionError):
    code = "usage.summary"


def last_weeks(today: date, count: int) -> list[str]:
    """The ISO weeks of the last `count` weeks, oldest first, this week last."""
    return [iso_week(today - timedelta(weeks=back)) for back in range(count - 1, -1, -1)]


def scale_quarters(weeks: Sequence[str]) -> list[str]:
    """The quarters whose loneliness scores a report of these weeks shows: those its weeks touch that have
    ended, and always the last ended one (the quarter of the last week is taken to be running)."""
    running = quarter_of(weeks[-1])
    year, number = int(running[:4]), int(running[-1])
    previous = f"{year - 1}-Q4" if number == 1 else f"{year}-Q{number - 1}"
    return sorted(({quarter_of(week) for week in weeks} | {previous}) - {running})


def weeks_of_quarters(quarters: Iterable[str]) -> list[str]:
    """Every ISO week of the quarters, oldest first."""
    found: set[str] = set()
    for quarter in quarters:
        first = date(int(quarter[:4]), 3 * int(quarter[-1]) - 2, 1)
        for offset in range(-7, 106, 7):  # a quarter is at most 92 days: look a week past either end
            week = iso_week(first + timedelta(days=offset))
            if quarter_of(week) == quarter:
                found.add(week)
    return sorted(found)


# -- one device --------------------------------------------------------------------------------------------


def device_summary(engine: Engine, household_id: int, weeks: Sequence[str]) -> dict[str, Any]:
    """What a device sends to the municipality: its pseudonym and weekly counts — or only that it does not
    count, when the person said no (or was never asked). The weeks asked for, whole; and of the other weeks
    of the quarters the report shows (`scale_quarters`), only the loneliness scores."""
    consent = consent_of(engine, household_id)
    if consent is None or not consent.counted:
        return {"schema": SCHEMA, "counted": False, "device": "", "weeks": {}}
    asked = set(weeks)
    counts = weekly_counts(engine, household_id, asked | set(weeks_of_quarters(scale_quarters(weeks))))
    summary: dict[str, dict[str, int]] = {}
    for week, cells in sorted(counts.items()):
        kept = {
            key_of(measure, detail): count
            for (measure, detail), count in sorted(cells.items())
            if week in asked or measure == LONELINESS
        }
        if kept:
            summary[week] = kept
    return {"schema": SCHEMA, "counted": True, "device": consent.pseudonym, "weeks": summary}


def read_summary(path: Path) -> dict[str, Any]:
    """A device's exported summary, checked: the schema, and counts only of known measures."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SummaryError(
            f"Cannot read {path}: {error}.", "Export the summary again from the device."
        ) from error
    if not check_summary(data):
        raise SummaryError(
            f"{path} is not a companion usage summary ({SCHEMA}).",
            "Export the summary again from the device.",
        )
    return dict(data)


def check_summary(data: Any) -> bool:
    """The schema, ISO weeks, and counts only of known measures: what may be kept from a device."""
    known = {key_of(measure, detail) for measure, details in MEASURES.items() for detail in details}
    ok = isinstance(data, dict) and data.get("schema") == SCHEMA and isinstance(data.get("weeks"), dict)
    for week, cells in data.get("weeks", {}).items() if ok else ():
        ok = ok and isinstance(week, str) and re.fullmatch(r"\d{4}-W\d{2}", week) is not None
        ok = ok and isinstance(cells, dict)
        ok = ok and all(
            key in known and type(value) is int and 0 <= value <= COUNT_AT_MOST
            for key, value in cells.items()
        )
    return ok


# -- a cohort ----------------------------------------------------------------------------------------------


@dataclass
class Cell:
    people: int
    total: int
    suppressed: bool = False
    why: str = ""
    """"small" (too few people) or "complementary" (would give a small one away)."""


@dataclass
class Cohort:
    weeks: list[str]
    devices: int
    min_people: int
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    """week → measure key → cell."""
    noise_epsilon: float = 0.0
    """The differential privacy's ε of each number shown; 0 when the numbers are exact."""
    quarters: dict[str, dict[str, Cell]] = field(default_factory=dict)
    """quarter → loneliness score key ("loneliness_score/7", "…/total") → people with that latest score."""

    def rows(self) -> Iterable[tuple[str, str, Cell]]:
        """(period, measure key, cell): every week's cells, then every quarter's loneliness scores."""
        for period, cells in (
            *((week, self.cells.get(week, {})) for week in self.weeks),
            *self.quarters.items(),
        ):
            for key, cell in sorted(cells.items()):
                yield period, key, cell


def cohort(
    summaries: Iterable[Mapping[str, Any]], weeks: Sequence[str], min_people: int, noise: Noise | None = None
) -> Cohort:
    """Many devices' summaries as one table, small cells suppressed — and the numbers shown noised, when
    differential privacy is asked for (noise.py)."""
    check_min_people(min_people)
    counted = [s for s in summaries if s.get("counted")]
    table = Cohort(list(weeks), len(counted), min_people, noise_epsilon=noise.epsilon if noise else 0.0)
    clip = noise.clip if noise is not None else _unclipped
    for week in weeks:
        cells = {key: Cell(0, 0) for key in WEEKLY_KEYS}
        for summary in counted:
            found = summary["weeks"].get(week, {})
            _add(cells, "used", 1 if found.get("turns", 0) > 0 else 0)
            totals: dict[str, int] = {}
            for key, value in found.items():
                if key.startswith(f"{LONELINESS}/"):
                    continue  # by quarter only
                _add(cells, key, clip(key, value))
                measure = key.split("/")[0]
                if "/" in key:
                    totals[measure] = totals.get(measure, 0) + value
            for measure, value in totals.items():
                _add(cells, key_of(measure, TOTAL), clip(measure, value))  # a person counts once in a total
        table.cells[week] = cells
    for quarter in scale_quarters(weeks):
        table.quarters[quarter] = _scale_cells(counted, quarter)
    return hide_and_noise(table, noise)


def check_min_people(min_people: int) -> None:
    if min_people < LOWEST_MIN_PEOPLE:
        raise SummaryError(
            f"Cells of fewer than {LOWEST_MIN_PEOPLE} people single someone out (min_people {min_people}).",
            f"Set [usage] min_people to {LOWEST_MIN_PEOPLE} or more.",
        )


def hide_and_noise(table: Cohort, noise: Noise | None, devices_in: Mapping[str, int] | None = None) -> Cohort:
    """The same rules for every cohort, a device's or the hub's: small cells hidden, and the cells that would
    give them away; every number hidden when there are too few devices — in the whole table, or, given
    `devices_in` (period → devices with counts in it; the hub's), in that period; the rest noised when asked
    for."""
    for cells in table.cells.values():
        _suppress(cells, table.min_people, LINKED)
    for cells in table.quarters.values():
        _suppress(cells, table.min_people, SCALE_LINKED)
    for period, cells in (*table.cells.items(), *table.quarters.items()):
        devices = table.devices if devices_in is None else devices_in.get(period, 0)
        if devices < table.min_people:
            # Too few devices for any number — a zero among hidden numbers says who did what.
            for cell in cells.values():
                cell.suppressed, cell.why = True, "small"
    if noise is not None:
        for period, key, cell in table.rows():
            if not cell.suppressed:
                cell.people, cell.total = noise.noised(period, key, cell.people, cell.total)
    return table


def _unclipped(_key: str, value: int) -> int:
    return value


def _scale_cells(counted: Sequence[Mapping[str, Any]], quarter: str) -> dict[str, Cell]:
    """People by their latest loneliness score in the quarter; its total is everyone who answered."""
    cells = {key_of(*part): Cell(0, 0) for part in SCALE_LINKED[LONELINESS]}
    cells[key_of(LONELINESS, TOTAL)] = Cell(0, 0)
    for summary in counted:
        scores = [
            key
            for week, found in sorted(summary["weeks"].items())
            if quarter_of(week) == quarter
            for key in sorted(found)
            if key.startswith(f"{LONELINESS}/")
        ]
        if scores:
            _add(cells, scores[-1], 1)
            _add(cells, key_of(LONELINESS, TOTAL), 1)
    return cells


def _add(cells: dict[str, Cell], key: str, value: int) -> None:
    cell = cells.setdefault(key, Cell(0, 0))
    if value > 0:
        cell.people += 1
        cell.total += value


def _suppress(
    cells: dict[str, Cell], min_people: int, linked: Mapping[str, tuple[tuple[str, str], ...]]
) -> None:
    for cell in cells.values():
        if 0 < cell.people < min_people:
            cell.suppressed, cell.why = True, "small"
    for measure, parts in linked.items():
        total = cells[key_of(measure, TOTAL)] if measure != "reminders_delivered" else cells.get(measure)
        members = [cells.setdefault(key_of(*part), Cell(0, 0)) for part in parts]
        if total is None:
            continue
        # Hidden parts beside a shown total add up to the total minus the shown parts: that sum must be about
        # enough people (at least the largest hidden part's, as they may be the same people), else one more
        # part — or the total — is hidden.
        while not total.suppressed:
            hidden = [cell for cell in members if cell.suppressed]
            if not hidden or max(cell.people for cell in hidden) >= min_people:
                break
            shown = (c for c in members if not c.suppressed and c.people > 0)
            candidates = sorted(shown, key=lambda c: c.total)
            extra = candidates[0] if candidates else total
            extra.suppressed, extra.why = True, "complementary"
