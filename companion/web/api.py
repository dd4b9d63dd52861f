"""The JSON API: the same operations as the pages, described by an OpenAPI document (/api/openapi.json).

A client signs in (or pairs) and gets a bearer token: the same kind of session as the page's cookie, but
sent in the Authorization header, which a browser never adds by itself — so the API needs no CSRF token.
Refusals carry a stable `reason` (and the `field` it concerns), never a stack trace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field

from companion.errors import ReminderError
from companion.reminders.book import History, Reminder
from companion.reminders.recurrence import parse_wall, wall_text
from companion.web import entry
from companion.web.accounts import Account
from companion.web.app import Web
from companion.web.listing import next_time
from companion.web.pages import FIELD_OF_REASON, audit, own_reminder, rule_of

router = APIRouter(prefix="/api", tags=["api"])


Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class Problem(BaseModel):
    reason: str
    field: str = ""


class SignIn(BaseModel):
    email: str = Field(max_length=300)
    password: str = Field(max_length=300)


class Pairing(BaseModel):
    code: str = Field(max_length=40, description="The eight digits the companion said.")
    name: str = Field(max_length=300, description="How the person knows you: said with each reminder.")
    email: str = Field(max_length=300)
    password: str = Field(max_length=300)
    language: Literal["da", "en"] = "da"


class Session(BaseModel):
    token: str
    name: str


class NewReminder(BaseModel):
    text: str = Field(max_length=5000)
    starts_at: str = Field(max_length=40, description="Copenhagen wall time, YYYY-MM-DDTHH:MM")
    repeat: Literal["once", "daily", "weekly"] = "once"
    weekdays: list[Weekday] = Field(default_factory=list, max_length=7)


class Occurrence(BaseModel):
    speak_utc: datetime
    lead: str
    state: str


class ReminderOut(BaseModel):
    id: int
    text: str
    asked_by_name: str
    starts_at: str
    rrule: str | None
    next_at: str | None
    history: list[Occurrence]


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def bearer(web: Web, authorization: str | None, *roles: str) -> Account:
    """The account whose token the request carries, if it has one of `roles` (default: a relative, of a
    household)."""
    allowed = roles or ("relative",)
    scheme, _, token = (authorization or "").partition(" ")
    found = web.sessions.find(token, web.now()) if scheme.lower() == "bearer" and token else None
    if found is None:
        raise HTTPException(status_code=401, detail="Sign in first (POST /api/session).")
    account = found[0]
    if account.role not in allowed or (account.role == "relative" and account.household_id is None):
        raise HTTPException(status_code=403, detail=f"Only a {' or a '.join(allowed)} may do this.")
    return account


def _one(web: Web, reminder: Reminder) -> ReminderOut:
    return _out(reminder, web.book.histories([reminder.id])[reminder.id], web.now())


def _out(reminder: Reminder, history: History, now_utc: datetime) -> ReminderOut:
    following = next_time(reminder, now_utc)
    return ReminderOut(
        id=reminder.id,
        text=reminder.text,
        asked_by_name=reminder.asked_by_name,
        starts_at=wall_text(reminder.starts_at),
        rrule=reminder.rrule,
        next_at=wall_text(following) if following else None,
        history=[Occurrence(speak_utc=at, lead=lead, state=state) for at, lead, state in history],
    )


def problem(status: int, reason: str, field: str = "") -> HTTPException:
    return HTTPException(status_code=status, detail=Problem(reason=reason, field=field).model_dump())


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/session", response_model=Session, responses={400: {"model": Problem}, 429: {"model": Problem}})
def sign_in(body: SignIn, request: Request) -> Session:
    web = web_of(request)
    outcome = entry.sign_in(web, body.email, body.password, _address(request))
    if isinstance(outcome, entry.Refusal):
        raise problem(429 if outcome.reason == "locked" else 400, outcome.reason)
    token, _csrf = web.sessions.start(outcome.id, web.now())
    return Session(token=token, name=outcome.name)


@router.delete("/session", status_code=204)
def sign_out(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    _, _, token = (authorization or "").partition(" ")
    if token:
        web_of(request).sessions.end(token)
    return Response(status_code=204)


@router.post("/pair", response_model=Session, responses={400: {"model": Problem}, 429: {"model": Problem}})
def pair(body: Pairing, request: Request) -> Session:
    web = web_of(request)
    outcome = entry.pair(
        web, body.code, body.name, body.email, body.password, body.language, _address(request)
    )
    if isinstance(outcome, entry.Refusal):
        raise problem(429 if outcome.reason == "locked" else 400, outcome.reason, outcome.field)
    token, _csrf = web.sessions.start(outcome.id, web.now())
    return Session(token=token, name=outcome.name)


@router.get("/reminders", response_model=list[ReminderOut], responses={401: {"model": Problem}})
async def list_reminders(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> list[ReminderOut]:
    web = web_of(request)
    account = bearer(web, authorization)
    now = web.now()
    return web.views.of(
        account.household_id or 0,
        "api",
        lambda own, histories: [_out(reminder, histories[reminder.id], now) for reminder in own],
    )


@router.post("/reminders", response_model=ReminderOut, status_code=201, responses={400: {"model": Problem}})
def add_reminder(
    body: NewReminder, request: Request, authorization: Annotated[str | None, Header()] = None
) -> ReminderOut:
    web = web_of(request)
    account = bearer(web, authorization)
    rule = rule_of(body.repeat, list(body.weekdays))
    try:
        reminder = web.book.create(
            body.text,
            parse_wall(body.starts_at),
            rrule=rule,
            asked_by="relative",
            asked_by_name=account.name,
            household_id=account.household_id or 0,
            created_by=account.id,
        )
    except ReminderError as error:
        raise problem(400, error.reason, FIELD_OF_REASON.get(error.reason, "starts_at")) from error
    audit(web, account, "reminder_created", reminder.id)
    return _one(web, reminder)


def _own(web: Web, account: Account, reminder_id: int) -> Reminder:
    reminder = own_reminder(web, account, reminder_id)
    if reminder is None:
        raise problem(404, "not_found")
    return reminder


@router.get("/reminders/{reminder_id}", response_model=ReminderOut, responses={404: {"model": Problem}})
async def get_reminder(
    reminder_id: int, request: Request, authorization: Annotated[str | None, Header()] = None
) -> ReminderOut:
    web = web_of(request)
    return _one(web, _own(web, bearer(web, authorization), reminder_id))


@router.put(
    "/reminders/{reminder_id}",
    response_model=ReminderOut,
    responses={400: {"model": Problem}, 404: {"model": Problem}},
)
def change_reminder(
    reminder_id: int,
    body: NewReminder,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> ReminderOut:
    web = web_of(request)
    account = bearer(web, authorization)
    _own(web, account, reminder_id)
    rule = rule_of(body.repeat, list(body.weekdays))
    try:
        changed = web.book.update(reminder_id, body.text, parse_wall(body.starts_at), rule)
    except ReminderError as error:
        raise problem(400, error.reason, FIELD_OF_REASON.get(error.reason, "starts_at")) from error
    if changed is None:
        raise problem(404, "not_found")
    audit(web, account, "reminder_changed", reminder_id)
    return _one(web, changed)


@router.delete("/reminders/{reminder_id}", status_code=204, responses={404: {"model": Problem}})
def delete_reminder(
    reminder_id: int, request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    web = web_of(request)
    account = bearer(web, authorization)
    _own(web, account, reminder_id)
    web.book.delete(reminder_id)
    audit(web, account, "reminder_deleted", reminder_id)
    return Response(status_code=204)
