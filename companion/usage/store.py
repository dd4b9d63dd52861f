"""Usage in the database: the person's consent, counts by day, and by week once the days are old.

Nothing is counted without a "ja" (`usage_consent.counted`); a withdrawal ("du må ikke tælle mere") deletes
every count the household had. Days older than the retention (90 days by default) are folded into weeks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update

from companion.store.database import store_errors, writing
from companion.store.marks import clear_mark
from companion.store.schema import usage_consent, usage_days, usage_weeks
from companion.usage.measures import check

Cell = tuple[str, str]
"""(measure, detail)."""


@dataclass(frozen=True)
class Consent:
    counted: bool
    decided_on: date
    pseudonym: str


def iso_week(day: date) -> str:
    """ "2026-W10": the ISO week a day belongs to (weeks start on Monday; week 1 has the first Thursday)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def quarter_of(week: str) -> str:
    """ "2026-Q1": the calendar quarter of an ISO week (of its Thursday, as ISO weeks belong to years)."""
    year, number = week.split("-W")
    thursday = date.fromisocalendar(int(year), int(number), 4)
    return f"{thursday.year}-Q{(thursday.month - 1) // 3 + 1}"


@store_errors("read the consent to counting")
def consent_of(engine: Engine, household_id: int) -> Consent | None:
    """The household's answer; None when it was never asked (then nothing is counted)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(usage_consent).where(usage_consent.c.household_id == household_id)
        ).first()
    return Consent(row.counted, date.fromisoformat(row.decided_on), row.pseudonym) if row else None


ASK_MARK = "usage_consent_ask"
"""In `marks`: a coordinator asked for the question to be put at the next conversation."""
LONELINESS_MARK = "loneliness_asked"
"""In `marks`: when the loneliness questions were last offered (they come again after three months)."""


@store_errors("save the answer about counting")
def decide(engine: Engine, household_id: int, counted: bool, today: date) -> None:
    """Store the person's answer (the question is then answered). A "nej" — now or later — deletes every
    count the household had."""
    with writing(engine) as connection:
        clear_mark(connection, ASK_MARK)
        connection.execute(delete(usage_consent).where(usage_consent.c.household_id == household_id))
        connection.execute(
            insert(usage_consent).values(
                household_id=household_id,
                counted=counted,
                decided_on=today.isoformat(),
                # A new name at every "ja": counts from before a withdrawal can never be joined to later ones.
                pseudonym=secrets.token_hex(8),
            )
        )
        if not counted:
            clear_mark(connection, LONELINESS_MARK)
            connection.execute(delete(usage_days).where(usage_days.c.household_id == household_id))
            connection.execute(delete(usage_weeks).where(usage_weeks.c.household_id == household_id))


@store_errors("count usage")
def add(engine: Engine, household_id: int, day: date, counts: Mapping[Cell, int]) -> bool:
    """Add counts to a day, if the household said yes (from that day on); False when nothing was counted."""
    with writing(engine) as connection:
        return add_within(connection, household_id, day, counts)


def add_within(connection: Connection, household_id: int, day: date, counts: Mapping[Cell, int]) -> bool:
    """`add`, inside the caller's write transaction."""
    for measure, detail in counts:
        check(measure, detail)
    row = connection.execute(
        select(usage_consent).where(usage_consent.c.household_id == household_id)
    ).first()
    if row is None or not row.counted or day < date.fromisoformat(row.decided_on):
        return False
    for (measure, detail), count in counts.items():
        if count > 0:
            _add_to(connection, usage_days, "day", (household_id, day.isoformat(), measure, detail), count)
    return True


def _add_to(
    connection: Connection, table: Table, period: str, key: tuple[int, str, str, str], count: int
) -> None:
    household_id, when, measure, detail = key
    cell = (
        table.c.household_id == household_id,
        table.c[period] == when,
        table.c.measure == measure,
        table.c.detail == detail,
    )
    if not connection.execute(update(table).where(*cell).values(count=table.c.count + count)).rowcount:
        values = {"household_id": household_id, period: when, "measure": measure, "detail": detail}
        connection.execute(insert(table).values(**values, count=count))


@store_errors("fold old usage into weeks")
def fold_old_days(engine: Engine, today: date, keep_days: int) -> int:
    """Days older than `keep_days` become weekly counts (whole weeks only); returns the days' rows folded."""
    # Only weeks that ended before the horizon, so a week is never half days and half a weekly count.
    horizon = today - timedelta(days=keep_days)
    last_monday = horizon - timedelta(days=horizon.weekday())
    old = usage_days.c.day < last_monday.isoformat()
    with writing(engine) as connection:
        columns = (usage_days.c.household_id, usage_days.c.day, usage_days.c.measure, usage_days.c.detail)
        rows = connection.execute(select(*columns, usage_days.c.count).where(old)).all()
        weekly: dict[tuple[int, str, str, str], int] = {}
        for household_id, day, measure, detail, count in rows:
            key = (household_id, iso_week(date.fromisoformat(day)), measure, detail)
            weekly[key] = weekly.get(key, 0) + count
        for key, count in weekly.items():
            _add_to(connection, usage_weeks, "week", key, count)
        connection.execute(delete(usage_days).where(old))
    return len(rows)


@store_errors("read usage")
def weekly_counts(engine: Engine, household_id: int, weeks: Iterable[str]) -> dict[str, dict[Cell, int]]:
    """Each asked-for week's counts, from the days and from the folded weeks."""
    wanted = set(weeks)
    found: dict[str, dict[Cell, int]] = {week: {} for week in wanted}
    with engine.connect() as connection:
        days = connection.execute(
            select(usage_days.c.day, usage_days.c.measure, usage_days.c.detail, usage_days.c.count).where(
                usage_days.c.household_id == household_id
            )
        ).all()
        folded = connection.execute(
            select(
                usage_weeks.c.week, usage_weeks.c.measure, usage_weeks.c.detail, usage_weeks.c.count
            ).where(usage_weeks.c.household_id == household_id, usage_weeks.c.week.in_(wanted))
        ).all()
    for day, measure, detail, count in days:
        week = iso_week(date.fromisoformat(day))
        if week in wanted:
            cells = found[week]
            cells[(measure, detail)] = cells.get((measure, detail), 0) + count
    for week, measure, detail, count in folded:
        cells = found[week]
        cells[(measure, detail)] = cells.get((measure, detail), 0) + count
    return found


def count_rows(engine: Engine, household_id: int) -> int:
    """How many counts the household has (days and weeks): none after a "nej"."""
    with engine.connect() as connection:
        days = connection.scalar(select(func.count()).where(usage_days.c.household_id == household_id))
        weeks = connection.scalar(select(func.count()).where(usage_weeks.c.household_id == household_id))
    return int(days or 0) + int(weeks or 0)
