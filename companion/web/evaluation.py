"""The evaluator's page: the usage report's charts and its CSV — counts only, small numbers hidden.

Built from this device's weekly counts (when its person said yes) and the summaries imported from other
devices (`companion report import`), exactly as `companion report` builds them; on the hub, from every
device's synced counts (companion/hub/fleet.py), by the same rules.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from companion.errors import CompanionError
from companion.reminders.recurrence import local
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.usage.noise import noise_for
from companion.usage.report import as_csv, charts, cohort_of
from companion.usage.store import iso_week
from companion.usage.summary import Cohort, last_weeks
from companion.web.app import Web, render, with_role
from companion.web.i18n import translations

log = logging.getLogger(__name__)
router = APIRouter()
WEEKS = 8


def _cohort(web: Web) -> Cohort:
    today = local(web.now()).date()
    usage = web.usage
    if web.hub:
        from companion.hub.fleet import shown_weeks

        return _fleet(web, shown_weeks(today, WEEKS), iso_week(today))
    weeks = last_weeks(today, WEEKS)
    return cohort_of(
        web.database.engine,
        DEVICE_HOUSEHOLD,
        web.database.directory,
        weeks,
        usage.min_people,
        usage.noise_epsilon,
    )


def _fleet(web: Web, weeks: list[str], this_week: str) -> Cohort:
    from companion.hub.fleet import fleet_cohort

    usage, engine = web.usage, web.database.engine
    noise = noise_for(usage.noise_epsilon, web.database.directory)
    if noise is None:
        return fleet_cohort(engine, weeks, this_week, usage.min_people, web.now())
    with noise:
        return fleet_cohort(engine, weeks, this_week, usage.min_people, web.now(), noise)


@router.get("/evaluation")
def evaluation_page(request: Request) -> Response:
    web, who = with_role(request, "evaluator")
    try:
        table = _cohort(web)
    except CompanionError as error:  # e.g. the record of the noise is damaged: said, never guessed around
        log.error("the evaluator's report failed: %s", error)
        return render(web, request, who, "evaluation.html", 503, problem=str(error))
    figures = charts(table, translations(who.language).gettext)
    return render(web, request, who, "evaluation.html", cohort=table, charts=figures, on_the_hub=web.hub)


@router.get("/evaluation.csv")
def evaluation_csv(request: Request) -> Response:
    web, _who = with_role(request, "evaluator")
    try:
        table = _cohort(web)
    except CompanionError as error:
        log.error("the evaluator's CSV failed: %s", error)
        return Response(f"{error}\n", 503, media_type="text/plain; charset=utf-8")
    return Response(
        as_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="companion-usage.csv"'},
    )
