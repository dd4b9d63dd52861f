"""The pages: sign in, pair with a household, and a relative's reminders.

Every form posts its CSRF token (403 without it); every reminder is looked up together with the visitor's
household, so another household's reminder is "not found" — never shown, never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

from babel.dates import format_date, format_time, get_day_names
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import insert

from companion.mind.catalogue import COPENHAGEN, Group
from companion.reminders.book import Reminder
from companion.reminders.recurrence import expand, local
from companion.store.catalogue import load_catalogue_from_db
from companion.store.database import writing
from companion.store.household import suggest_group
from companion.store.schema import audit_log
from companion.web import entry
from companion.web.accounts import Account
from companion.web.app import Visitor, Web, render, start_page, visitor
from companion.web.i18n import LANGUAGES, translations
from companion.web.security import FORM_COOKIE, SESSION_COOKIE, check_csrf, set_cookie

router = APIRouter()
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FIELD_OF_REASON = {
    "no_text": "text",
    "too_long": "text",
    "no_such_date": "when",
    "in_the_past": "when",
    "dst_gap": "when",
    "too_far": "when",
    "rule": "repeat",
}


def _web(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def relative(request: Request) -> tuple[Web, Visitor, Account]:
    web = _web(request)
    who = visitor(web, request)
    if who.account is None:
        raise HTTPException(status_code=401)
    if who.account.role != "relative" or who.account.household_id is None:
        raise HTTPException(status_code=403)
    return web, who, who.account


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(web: Web, request: Request, account: Account) -> Response:
    token, _csrf = web.sessions.start(account.id, web.now())
    response = RedirectResponse(start_page(account.role), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, max_age=web.settings.session_days * 24 * 3600)
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


# -- signing in --------------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request) -> Response:
    web = _web(request)
    return render(web, request, visitor(web, request), "login.html", email="", error="")


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web = _web(request)
    who = visitor(web, request)
    check_csrf(csrf, request.cookies.get(FORM_COOKIE))
    outcome = entry.sign_in(web, email, password, _client(request))
    if isinstance(outcome, entry.Refusal):
        status = 429 if outcome.reason == "locked" else 400
        return render(web, request, who, "login.html", status, email=email, error=outcome.reason)
    return _signed_in(web, request, outcome)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    web = _web(request)
    who = visitor(web, request)
    check_csrf(csrf, who.csrf if who.account else None)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        web.sessions.end(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/pair")
async def pair_page(request: Request) -> Response:
    web = _web(request)
    return render(web, request, visitor(web, request), "pair.html", form={}, errors={})


@router.post("/pair")
def pair(
    request: Request,
    code: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    email: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web = _web(request)
    who = visitor(web, request)
    check_csrf(csrf, request.cookies.get(FORM_COOKIE))
    form = {"code": code, "name": name, "email": email}
    outcome = entry.pair(web, code, name, email, password, who.language, _client(request))
    if isinstance(outcome, entry.Refusal):
        status = 429 if outcome.reason == "locked" else 400
        return render(
            web, request, who, "pair.html", status, form=form, errors={outcome.field: outcome.reason}
        )
    return _signed_in(web, request, outcome)


# -- a relative's reminders ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def when_words(moment: datetime, language: str) -> str:
    """ "mandag den 2. marts 2026 klokken 10:00" (cached: a page says the same times over and over)."""
    day = format_date(moment.date(), "full", locale=language)
    at = format_time(moment.time(), "HH:mm", locale=language)
    return translations(language).gettext("%(day)s at %(time)s") % {"day": day, "time": at}


def _repeat_words(reminder: Reminder, language: str, gettext: Callable[[str], str]) -> str:
    at = format_time(reminder.starts_at.time(), "HH:mm", locale=language)
    repeat, chosen = choice_of(reminder.rrule)
    if repeat == "once":
        return gettext("Once: %(when)s") % {"when": when_words(reminder.starts_at, language)}
    if repeat == "daily":
        return gettext("Every day at %(time)s") % {"time": at}
    names = get_day_names("wide", locale=language)
    days = [names[WEEKDAYS.index(day)] for day in chosen] or [names[reminder.starts_at.weekday()]]
    return gettext("Every week on %(days)s at %(time)s") % {"days": ", ".join(days), "time": at}


def _listed(
    web: Web,
    reminder: Reminder,
    history: list[tuple[datetime, str, str]],
    language: str,
    gettext: Callable[[str], str],
) -> dict[str, Any]:
    following = expand(reminder.rrule, reminder.starts_at).after(local(web.now()))
    return {
        "id": reminder.id,
        "text": reminder.text,
        "by": reminder.asked_by_name if reminder.asked_by != "person" else "",
        "repeat": _repeat_words(reminder, language, gettext),
        "next": when_words(following, language) if following else "",
        "history": [
            {"when": when_words(local(at), language), "state": state} for at, _lead, state in history
        ],
    }


@router.get("/evaluation")
async def evaluation_page(request: Request) -> Response:
    web = _web(request)
    who = visitor(web, request)
    if who.account is None:
        raise HTTPException(status_code=401)
    if who.account.role != "evaluator":
        raise HTTPException(status_code=403)
    return render(web, request, who, "evaluation.html")


GROUPS_AHEAD = timedelta(days=14)


def _groups(web: Web, language: str) -> tuple[Group, ...]:
    """The device's catalogue (seeded in the device's language, which may not be the visitor's)."""
    for catalogue_language in (language, *(other for other in LANGUAGES if other != language)):
        found = load_catalogue_from_db(web.database.engine, catalogue_language)
        if found:
            return found
    return ()


def _upcoming_groups(web: Web, language: str) -> list[dict[str, str]]:
    """The catalogue's sessions of the next two weeks, worked out once a minute (every page shows them)."""
    minute = local(web.now()).replace(second=0, microsecond=0)
    key = (language, minute.isoformat())
    if key not in web.minute_cache:
        web.minute_cache.clear()
        web.minute_cache[key] = _work_out_upcoming_groups(web, language, minute.replace(tzinfo=COPENHAGEN))
    return web.minute_cache[key]


def _work_out_upcoming_groups(web: Web, language: str, now: datetime) -> list[dict[str, str]]:
    coming = []
    for group in _groups(web, language):
        session = group.upcoming(now)
        if session is not None and session - now <= GROUPS_AHEAD:
            coming.append((session, group))
    return [
        {
            "id": group.id,
            "name": group.name,
            "when": when_words(session.replace(tzinfo=None), language),
            "place": group.place,
        }
        for session, group in sorted(coming, key=lambda pair: pair[0])
    ]


@router.get("/reminders")
async def reminders_page(request: Request, suggested: str = "") -> Response:
    web, who, account = relative(request)
    gettext = _gettext(who)
    own = web.book.all(account.household_id)
    histories = web.book.histories([r.id for r in own])
    listed = [_listed(web, r, histories[r.id], who.language, gettext) for r in own]
    groups = _upcoming_groups(web, who.language)
    named = next((g["name"] for g in groups if g["id"] == suggested), "")
    return render(web, request, who, "reminders.html", reminders=listed, groups=groups, suggested=named)


@router.post("/groups/{group_id}/suggest")
def suggest(request: Request, group_id: str, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    if all(group.id != group_id for group in _groups(web, who.language)):
        raise HTTPException(status_code=404)
    suggest_group(
        web.database.engine, account.household_id or 0, group_id, account.id, account.name, web.now()
    )
    return RedirectResponse(f"/reminders?suggested={group_id}", status_code=303)


def rule_of(repeat: str, weekdays: list[str]) -> str | None:
    """The RRULE for the page's choice: once (none), every day, or every week on the chosen days (with none
    chosen, on the start day's weekday)."""
    chosen = [day for day in weekdays if day in WEEKDAYS]
    weekly = "FREQ=WEEKLY" + (f";BYDAY={','.join(chosen)}" if chosen else "")
    return {"daily": "FREQ=DAILY", "weekly": weekly}.get(repeat)


def choice_of(rrule: str | None) -> tuple[str, list[str]]:
    """The page's choice for a reminder's RRULE: (once|daily|weekly, the weekdays named)."""
    rule = rrule or ""
    repeat = (
        "daily" if rule.startswith("FREQ=DAILY") else "weekly" if rule.startswith("FREQ=WEEKLY") else "once"
    )
    days = rule.partition("BYDAY=")[2].split(";")[0].split(",") if "BYDAY=" in rule else []
    return repeat, [day for day in days if day in WEEKDAYS]


def own_reminder(web: Web, account: Account, reminder_id: int) -> Reminder | None:
    """The reminder if it belongs to the account's household; another household's does not exist here."""
    reminder = web.book.get(reminder_id)
    return reminder if reminder is not None and reminder.household_id == account.household_id else None


def audit(web: Web, account: Account, action: str, reminder_id: int) -> None:
    """Who changed which reminder, and when: kept for the household and the coordinator to look into."""
    with writing(web.database.engine) as connection:
        connection.execute(
            insert(audit_log).values(
                at_utc=web.now(),
                account_id=account.id,
                household_id=account.household_id,
                action=action,
                reminder_id=reminder_id,
            )
        )


def _gettext(who: Visitor) -> Callable[[str], str]:
    return translations(who.language).gettext
