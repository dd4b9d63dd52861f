"""A relative's reminder forms: new, change, delete. Every reminder is looked up with the visitor's
household: another household's reminder is "not found", never shown or changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from companion.errors import ReminderError
from companion.reminders.book import Reminder
from companion.reminders.recurrence import local, parse_wall
from companion.web.accounts import Account
from companion.web.app import Visitor, Web, render
from companion.web.pages import FIELD_OF_REASON, WEEKDAYS, audit, relative, weekly_rule
from companion.web.security import check_csrf

router = APIRouter()

Text = Annotated[str, Form(max_length=5000)]
Day = Annotated[str, Form(alias="date", max_length=20)]
Clock = Annotated[str, Form(alias="time", max_length=10)]
Repeat = Annotated[str, Form(max_length=10)]
Weekdays = Annotated[list[str] | None, Form(max_length=2)]
Csrf = Annotated[str, Form(max_length=100)]


def _own(web: Web, account: Account, reminder_id: int) -> Reminder:
    reminder = web.book.get(reminder_id)
    if reminder is None or reminder.household_id != account.household_id:
        raise HTTPException(status_code=404)
    return reminder


def _form_of(reminder: Reminder) -> dict[str, object]:
    rule = reminder.rrule or ""
    repeat = (
        "daily" if rule.startswith("FREQ=DAILY") else "weekly" if rule.startswith("FREQ=WEEKLY") else "once"
    )
    days = rule.partition("BYDAY=")[2].split(";")[0].split(",") if "BYDAY=" in rule else []
    return {
        "text": reminder.text,
        "date": reminder.starts_at.date().isoformat(),
        "time": reminder.starts_at.strftime("%H:%M"),
        "repeat": repeat,
        "weekdays": days,
    }


def _refused(
    web: Web, request: Request, who: Visitor, form: Mapping[str, object], error: ReminderError, action: str
) -> Response:
    """The form again, as it was filled in, with the reason next to the field it is about."""
    errors = {FIELD_OF_REASON.get(error.reason, "when"): error.reason}
    return render(web, request, who, "reminder_form.html", 400, form=form, errors=errors, action=action)


def _rule(repeat: str, chosen: list[str]) -> str | None:
    return {"daily": "FREQ=DAILY", "weekly": weekly_rule(chosen)}.get(repeat)


@router.get("/reminders/new")
async def new_page(request: Request) -> Response:
    web, who, _account = relative(request)
    today = local(web.now()).date().isoformat()
    form = {"date": today, "repeat": "once"}
    return render(web, request, who, "reminder_form.html", form=form, errors={}, action="/reminders/new")


@router.post("/reminders/new")
def new(
    request: Request,
    text: Text = "",
    day: Day = "",
    clock: Clock = "",
    repeat: Repeat = "once",
    weekdays: Weekdays = None,
    csrf: Csrf = "",
) -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    chosen = [d for d in (weekdays or []) if d in WEEKDAYS]
    try:
        reminder = web.book.create(
            text,
            parse_wall(f"{day}T{clock}"),
            rrule=_rule(repeat, chosen),
            asked_by="relative",
            asked_by_name=account.name,
            household_id=account.household_id or 0,
            created_by=account.id,
        )
    except ReminderError as error:
        form = {"text": text, "date": day, "time": clock, "repeat": repeat, "weekdays": chosen}
        return _refused(web, request, who, form, error, "/reminders/new")
    audit(web, account, "reminder_created", reminder.id)
    return RedirectResponse("/reminders", status_code=303)


@router.get("/reminders/{reminder_id}/edit")
async def edit_page(request: Request, reminder_id: int) -> Response:
    web, who, account = relative(request)
    reminder = _own(web, account, reminder_id)
    action = f"/reminders/{reminder_id}/edit"
    return render(web, request, who, "reminder_form.html", form=_form_of(reminder), errors={}, action=action)


@router.post("/reminders/{reminder_id}/edit")
def edit(
    request: Request,
    reminder_id: int,
    text: Text = "",
    day: Day = "",
    clock: Clock = "",
    repeat: Repeat = "once",
    weekdays: Weekdays = None,
    csrf: Csrf = "",
) -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    _own(web, account, reminder_id)
    chosen = [d for d in (weekdays or []) if d in WEEKDAYS]
    try:
        web.book.update(reminder_id, text, parse_wall(f"{day}T{clock}"), _rule(repeat, chosen))
    except ReminderError as error:
        form = {"text": text, "date": day, "time": clock, "repeat": repeat, "weekdays": chosen}
        return _refused(web, request, who, form, error, f"/reminders/{reminder_id}/edit")
    audit(web, account, "reminder_changed", reminder_id)
    return RedirectResponse("/reminders", status_code=303)


@router.post("/reminders/{reminder_id}/delete")
def delete(request: Request, reminder_id: int, csrf: Csrf = "") -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    _own(web, account, reminder_id)
    web.book.delete(reminder_id)
    audit(web, account, "reminder_deleted", reminder_id)
    return RedirectResponse("/reminders", status_code=303)
