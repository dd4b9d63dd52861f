"""The evaluators' report: the cohort of this device and the summaries imported from others, as CSV, JSON
or an HTML page of charts — the same charts as the evaluator's page on the web.

Imported summaries are kept as files in <data_dir>/usage/ (one per device pseudonym; a newer import of the
same device replaces the older).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from markupsafe import Markup, escape
from sqlalchemy import Engine

from companion.usage.charts import bar_chart, scale_series, series
from companion.usage.measures import LONELINESS_SCORES
from companion.usage.noise import noise_for
from companion.usage.summary import Cohort, cohort, device_summary, read_summary

IMPORTS = "usage"
REPORT_SCHEMA = "companion-usage-report/2"
"""/2: cells are of a "period" — a week, or a quarter for the loneliness scale."""


def import_summaries(data_dir: Path, files: Sequence[Path]) -> list[str]:
    """Check and keep devices' summaries; returns their pseudonyms. All or nothing."""
    read = [read_summary(path) for path in files]
    folder = data_dir / IMPORTS
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for summary in read:
        if not summary.get("counted"):
            continue  # a device whose person said no sends nothing to count
        name = "".join(ch for ch in str(summary["device"]) if ch.isalnum())[:32] or "device"
        (folder / f"{name}.json").write_text(json.dumps(summary, sort_keys=True), encoding="utf-8")
        kept.append(name)
    return kept


def cohort_of(
    engine: Engine,
    household_id: int,
    data_dir: Path | None,
    weeks: Sequence[str],
    min_people: int,
    noise_epsilon: float = 0.0,
) -> Cohort:
    """This device's weeks and every imported device's, as one suppressed table (noised when ε > 0)."""
    summaries = [device_summary(engine, household_id, weeks)]
    own = summaries[0].get("device")
    folder = data_dir / IMPORTS if data_dir is not None else None
    for path in sorted(folder.glob("*.json")) if folder is not None and folder.is_dir() else ():
        imported = read_summary(path)
        if imported.get("device") != own:
            summaries.append(imported)
    noise = noise_for(noise_epsilon, data_dir)
    if noise is None:
        return cohort(summaries, weeks, min_people)
    with noise:
        return cohort(summaries, weeks, min_people, noise)


def as_csv(table: Cohort) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", "measure", "people", "total", "suppressed"])
    for period, key, cell in table.rows():
        if cell.suppressed:
            writer.writerow([period, key, "", "", "yes"])  # not why: "small" would point at the small one
        else:
            writer.writerow([period, key, cell.people, cell.total, ""])
    return out.getvalue()


def as_json(table: Cohort) -> str:
    cells = [
        {"period": period, "measure": key, "suppressed": True}
        if cell.suppressed
        else {"period": period, "measure": key, "people": cell.people, "total": cell.total}
        for period, key, cell in table.rows()
    ]
    document = {
        "schema": REPORT_SCHEMA,
        "weeks": table.weeks,
        "quarters": list(table.quarters),
        "devices": table.devices,
        "min_people": table.min_people,
        "noise_epsilon": table.noise_epsilon,
        "cells": cells,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


WEEKLY_CHARTS: tuple[tuple[str, tuple[tuple[str, str, bool], ...]], ...] = (
    (
        "Weekly use",
        (("used", "people who talked with it", True), ("conversations/total", "conversations", False)),
    ),
    (
        "Suggestions offered and accepted",
        (
            ("suggestions_offered/total", "offered", False),
            ("suggestions_accepted/total", "accepted", False),
            ("suggestions_declined/total", "declined", False),
        ),
    ),
    (
        "Reminders heard and missed",
        (("reminders_acknowledged", "heard", False), ("reminders_missed", "missed", False)),
    ),
    (
        "Group sessions reminded of and attended (as the person said)",
        (("sessions_reminded", "reminded of", False), ("sessions_attended", "attended", False)),
    ),
)
"""Each weekly chart: its title and its bars (measure key, label, whether it counts people, not totals);
titles and labels are translated by the catalogs (companion/web/locale)."""


def charts(table: Cohort, gettext: Callable[[str], str]) -> list[Markup]:
    """The report's charts, in the reader's language."""
    hidden = gettext("hidden")
    weekly = [
        bar_chart(
            gettext(title),
            table.weeks,
            [series(table, key, gettext(label), people) for key, label, people in bars],
            hidden,
        )
        for title, bars in WEEKLY_CHARTS
    ]
    scale = bar_chart(
        gettext("Loneliness score by quarter: people per score (3 hardly ever lonely – 9 often lonely)"),
        LONELINESS_SCORES,
        [scale_series(table, quarter) for quarter in table.quarters],
        hidden,
        ticks=LONELINESS_SCORES,
    )
    return [*weekly, scale]


def as_html(table: Cohort) -> str:
    """A page on its own (the CLI's report), in English."""
    figures = "\n".join(charts(table, lambda text: text))
    first, last = escape(table.weeks[0]), escape(table.weeks[-1])
    intro = (
        f"{table.devices} devices, weeks {first} to {last}. A number about fewer than {table.min_people} "
        "people is hidden, and so is a second one wherever the hidden one could be worked out from a total."
    )
    if table.noise_epsilon:
        intro += (
            " Counts of people and totals have random noise added (differential privacy, ε = "
            f"{table.noise_epsilon} for each number): small differences mean nothing. Exact are which "
            "numbers are hidden, the number of devices and the devices' own health (minutes up, errors)."
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Companion usage</title>'
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
        "svg{width:100%;height:auto}table{border-collapse:collapse;margin:.5rem 0 2rem}"
        "td,th{border:1px solid #999;padding:.2rem .5rem;text-align:right}</style></head><body>"
        f"<h1>Companion usage</h1><p>{intro}</p>\n{figures}\n</body></html>\n"
    )
