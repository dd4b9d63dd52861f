"""The evaluators' report on the hub: every device's weekly counts added up in SQL on PostgreSQL, then
hidden and noised by the very rules a device's report uses (usage/summary.py: hide_and_noise).

A period (a week, or a quarter's loneliness scores) is released once it has ended, and what was released
is kept (`fleet_releases`): summaries that arrive later never change a published number, so two reports
cannot be set side by side to tell a late household's counts by difference. A period still running is
computed afresh at each look and kept nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from companion.store.database import writing
from companion.store.schema import fleet_releases
from companion.usage.measures import MEASURES
from companion.usage.noise import Noise
from companion.usage.store import quarter_of
from companion.usage.summary import (
    LONELINESS,
    SCALE_LINKED,
    TOTAL,
    WEEKLY_KEYS,
    Cell,
    Cohort,
    check_min_people,
    hide_and_noise,
    key_of,
    last_weeks,
    scale_quarters,
    weeks_of_quarters,
)

LATE_DAYS = 3
"""A week is shown (and so released) this many days after it ended: a device that was off over a weekend
has sent its counts by then."""


def shown_weeks(today: date, count: int) -> list[str]:
    """The `count` weeks that ended at least LATE_DAYS ago, oldest first. A week still running is never shown
    on the hub: counted afresh at each look, two looks would tell one household's use by difference."""
    last_day = today - timedelta(days=LATE_DAYS)
    last_sunday = last_day - timedelta(days=last_day.isoweekday() % 7)
    return last_weeks(last_sunday, count)


# Each person's part of a cell, clipped to the measure's bound when noise is asked for (NULL: as it is).
_BOUNDS = "SELECT * FROM unnest(CAST(:measures AS text[]), CAST(:bounds AS integer[])) AS b(measure, bound)"
_CELLS = f"""
WITH bounds AS ({_BOUNDS}),
shown AS (
    SELECT week, key, split_part(key, '/', 1) AS measure, pseudonym, count FROM fleet_weeks
    WHERE week = ANY(:weeks) AND key NOT LIKE '{LONELINESS}/%'
)
SELECT week, key, count(*) FILTER (WHERE count > 0) AS people,
       coalesce(sum(least(count, coalesce(bound, count))) FILTER (WHERE count > 0), 0) AS total
FROM shown LEFT JOIN bounds USING (measure) GROUP BY week, key
UNION ALL
SELECT week, 'used', count(*) FILTER (WHERE count > 0), count(*) FILTER (WHERE count > 0)
FROM shown WHERE key = 'turns' GROUP BY week
UNION ALL
SELECT week, measure || '/{TOTAL}', count(*) FILTER (WHERE part > 0),
       coalesce(sum(least(part, coalesce(bound, part))) FILTER (WHERE part > 0), 0)
FROM (SELECT week, measure, pseudonym, sum(count) AS part FROM shown WHERE key LIKE '%/%'
      GROUP BY week, measure, pseudonym) AS parts
LEFT JOIN bounds USING (measure) GROUP BY week, measure
"""
# Each person once a quarter, with their latest score (the latest week; within it, the highest key, as
# a device's report takes it).
_SCORES = f"""
WITH quarters AS (
    SELECT * FROM unnest(CAST(:weeks AS text[]), CAST(:quarters AS text[])) AS q(week, quarter)
),
latest AS (
    SELECT DISTINCT ON (quarter, pseudonym) quarter, key FROM fleet_weeks JOIN quarters USING (week)
    WHERE key LIKE '{LONELINESS}/%'
    ORDER BY quarter, pseudonym, week DESC, key DESC
)
SELECT quarter, key, count(*) AS people FROM latest GROUP BY quarter, key
"""


def fleet_cohort(
    engine: Engine,
    weeks: Sequence[str],
    this_week: str,
    min_people: int,
    now: datetime,
    noise: Noise | None = None,
) -> Cohort:
    """The hub's table of `weeks` (and the loneliness scores of the quarters that have ended): released
    periods as they were released, the others computed — and released now, if they have ended."""
    check_min_people(min_people)
    quarters = scale_quarters(weeks)
    with writing(engine) as connection:
        # The devices reported on: those with counts in the weeks shown — and for the rule "too few devices,
        # no numbers", those with counts in each period (not every device ever seen, or a lone active one
        # would hide among long-gone ones and its zeros be shown).
        devices = int(
            connection.scalar(
                text("SELECT count(DISTINCT pseudonym) FROM fleet_weeks WHERE week = ANY(:weeks)").bindparams(
                    bindparam("weeks", list(weeks))
                )
            )
            or 0
        )
        devices_in = _devices_by_period(connection, weeks, quarters)
        table = Cohort(list(weeks), devices, min_people, noise_epsilon=noise.epsilon if noise else 0.0)
        released = _released(connection, [*weeks, *quarters])
        fresh = Cohort(list(weeks), devices, min_people, noise_epsilon=table.noise_epsilon)
        _weekly_cells(connection, fresh, [w for w in weeks if w not in released], noise)
        _scale_cells(connection, fresh, [q for q in quarters if q not in released])
        hide_and_noise(fresh, noise, devices_in)
        for week in weeks:
            table.cells[week] = released.get(week) or fresh.cells[week]
        for quarter in quarters:
            table.quarters[quarter] = released.get(quarter) or fresh.quarters[quarter]
        ended = {week: fresh.cells[week] for week in weeks if week < this_week and week not in released}
        ended |= {q: fresh.quarters[q] for q in quarters if q not in released}  # scale_quarters: ended ones
        _release(connection, ended, now)
        # Another look may have released the same period a moment before: what stands is what is shown.
        for period, cells in _released(connection, list(ended)).items():
            (table.cells if period in table.cells else table.quarters)[period] = cells
    return table


def _devices_by_period(
    connection: Connection, weeks: Sequence[str], quarters: Sequence[str]
) -> dict[str, int]:
    scale_weeks = weeks_of_quarters(quarters)
    query = text(
        "SELECT w.period, count(DISTINCT f.pseudonym) FROM fleet_weeks AS f "
        "JOIN unnest(CAST(:weeks AS text[]), CAST(:periods AS text[])) AS w(week, period) ON w.week = f.week "
        "GROUP BY w.period"
    ).bindparams(
        bindparam("weeks", [*weeks, *scale_weeks]),
        bindparam("periods", [*weeks, *(quarter_of(week) for week in scale_weeks)]),
    )
    return {str(period): int(count) for period, count in connection.execute(query)}


def _weekly_cells(connection: Connection, table: Cohort, weeks: Sequence[str], noise: Noise | None) -> None:
    measures = sorted({*MEASURES, "used"})
    bounds = [noise.sensitivity(measure) if noise is not None else None for measure in measures]
    for week in weeks:
        table.cells[week] = {key: Cell(0, 0) for key in WEEKLY_KEYS}
    if not weeks:
        return
    query = text(_CELLS).bindparams(
        bindparam("weeks", list(weeks)), bindparam("measures", measures), bindparam("bounds", bounds)
    )
    for week, key, people, total in connection.execute(query):
        table.cells[week][key] = Cell(int(people), int(total))


def _scale_cells(connection: Connection, table: Cohort, quarters: Sequence[str]) -> None:
    for quarter in quarters:
        cells = {key_of(*part): Cell(0, 0) for part in SCALE_LINKED[LONELINESS]}
        cells[key_of(LONELINESS, TOTAL)] = Cell(0, 0)
        table.quarters[quarter] = cells
    weeks = weeks_of_quarters(quarters)
    if not weeks:
        return
    query = text(_SCORES).bindparams(
        bindparam("weeks", weeks), bindparam("quarters", [quarter_of(week) for week in weeks])
    )
    for quarter, key, people in connection.execute(query):
        cells = table.quarters[quarter]
        cells[key] = Cell(int(people), int(people))
        everyone = cells[key_of(LONELINESS, TOTAL)]
        everyone.people += int(people)
        everyone.total += int(people)


def _released(connection: Connection, periods: Sequence[str]) -> dict[str, dict[str, Cell]]:
    found: dict[str, dict[str, Cell]] = {}
    rows = connection.execute(select(fleet_releases).where(fleet_releases.c.period.in_(list(periods))))
    for row in rows:
        cell = Cell(row.people, row.total, row.suppressed, "released" if row.suppressed else "")
        found.setdefault(row.period, {})[row.key] = cell
    return found


def _release(connection: Connection, periods: dict[str, dict[str, Cell]], now: datetime) -> None:
    rows = [
        {
            "period": period,
            "key": key,
            "people": cell.people,
            "total": cell.total,
            "suppressed": cell.suppressed,
            "released_utc": now,
        }
        for period, cells in periods.items()
        for key, cell in cells.items()
    ]
    if rows:
        # Two evaluators looking at once: the first release stands, the second adds nothing.
        connection.execute(pg_insert(fleet_releases).values(rows).on_conflict_do_nothing())
