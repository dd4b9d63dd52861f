"""The pages: sign in, pair with a household, and a relative's reminders.

Every form posts its CSRF token (403 without it); every reminder is looked up together with the visitor's
household, so another household's reminder is "not found" — never shown, never changed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import insert

from companion.reminders.book import History, Reminder
from companion.store.database import writing
from companion.store.household import suggest_group
from companion.store.schema import audit_log
from companion.web import entry
from companion.web.accounts import Account
from companion.web.app import Visitor, Web, render, start_page, visitor, with_role
from companion.web.i18n import translations
from companion.web.listing import CSRF_HOLE, WEEKDAYS, groups_on_offer, reminders_in_words, with_token
from companion.web.security import FORM_COOKIE, SESSION_COOKIE, check_csrf, set_cookie

router = APIRouter()
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
    """The signed-in relative of a household; 401 when signed out, 403 for anyone else."""
    web, who = with_role(request, "relative")
    assert who.account is not None  # with_role let only a signed-in account through
    if who.account.household_id is None:
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


@router.get("/reminders")
async def reminders_page(request: Request, suggested: str = "") -> Response:
    web, who, account = relative(request)
    now = web.now()

    def shared_list(own: list[Reminder], histories: dict[int, History]) -> tuple[int, Markup]:
        # Rendered once per change for everyone of the household: the page's costliest part.
        listed = reminders_in_words(own, histories, now, who.language)
        template = web.templates.get_template("reminder_list.html")
        gettext = translations(who.language).gettext
        return len(listed), Markup(template.render(reminders=listed, csrf=Markup(CSRF_HOLE), _=gettext))

    count, shared = web.views.of(account.household_id or 0, f"page:{who.language}", shared_list)
    groups = web.views.upcoming_groups(web.database.engine, who.language)
    named = next((g["name"] for g in groups if g["id"] == suggested), "")
    return render(
        web,
        request,
        who,
        "reminders.html",
        reminder_count=count,
        reminder_list=with_token(shared, who.csrf),
        groups=groups,
        suggested=named,
    )


@router.post("/groups/{group_id}/suggest")
def suggest(request: Request, group_id: str, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    if all(group.id != group_id for group in groups_on_offer(web.database.engine, who.language)):
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
