"""A relative's reminder forms: new, change, delete. Every reminder is looked up with the visitor's
household: another household's reminder is "not found", never shown or changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from companion.errors import ReminderError
from companion.reminders.book import Reminder
from companion.reminders.recurrence import local, parse_wall
from companion.web.accounts import Account
from companion.web.app import Visitor, Web, render
from companion.web.listing import WEEKDAYS, choice_of
from companion.web.pages import FIELD_OF_REASON, audit, own_reminder, relative, rule_of
from companion.web.security import check_csrf

router = APIRouter()
Csrf = Annotated[str, Form(max_length=100)]


@dataclass(frozen=True)
class ReminderFields:
    """What the new and the change form post (the same fields, read once)."""

    text: str
    day: str
    clock: str
    repeat: str
    weekdays: list[str]

    @classmethod
    def posted(
        cls,
        text: Annotated[str, Form(max_length=5000)] = "",
        day: Annotated[str, Form(alias="date", max_length=20)] = "",
        clock: Annotated[str, Form(alias="time", max_length=10)] = "",
        repeat: Annotated[str, Form(max_length=10)] = "once",
        weekdays: Annotated[list[str] | None, Form(max_length=7)] = None,  # how many days
    ) -> ReminderFields:
        return cls(text, day, clock, repeat, [d for d in (weekdays or []) if d in WEEKDAYS])

    @property
    def form(self) -> dict[str, object]:
        """The form as it was filled in, to show again with a refusal."""
        return {
            "text": self.text,
            "date": self.day,
            "time": self.clock,
            "repeat": self.repeat,
            "weekdays": self.weekdays,
        }


Posted = Annotated[ReminderFields, Depends(ReminderFields.posted)]


def _own(web: Web, account: Account, reminder_id: int) -> Reminder:
    reminder = own_reminder(web, account, reminder_id)
    if reminder is None:
        raise HTTPException(status_code=404)
    return reminder


def _form_of(reminder: Reminder) -> dict[str, object]:
    repeat, days = choice_of(reminder.rrule)
    return {
        "text": reminder.text,
        "date": reminder.starts_at.date().isoformat(),
        "time": reminder.starts_at.strftime("%H:%M"),
        "repeat": repeat,
        "weekdays": days,
    }


def _refused(
    web: Web, request: Request, who: Visitor, fields: ReminderFields, error: ReminderError, action: str
) -> Response:
    """The form again, as it was filled in, with the reason next to the field it is about."""
    errors = {FIELD_OF_REASON.get(error.reason, "when"): error.reason}
    return render(
        web, request, who, "reminder_form.html", 400, form=fields.form, errors=errors, action=action
    )


@router.get("/reminders/new")
async def new_page(request: Request) -> Response:
    web, who, _account = relative(request)
    today = local(web.now()).date().isoformat()
    form = {"date": today, "repeat": "once"}
    return render(web, request, who, "reminder_form.html", form=form, errors={}, action="/reminders/new")


@router.post("/reminders/new")
def new(request: Request, fields: Posted, csrf: Csrf = "") -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    try:
        reminder = web.book.create(
            fields.text,
            parse_wall(f"{fields.day}T{fields.clock}"),
            rrule=rule_of(fields.repeat, fields.weekdays),
            asked_by="relative",
            asked_by_name=account.name,
            household_id=account.household_id or 0,
            created_by=account.id,
        )
    except ReminderError as error:
        return _refused(web, request, who, fields, error, "/reminders/new")
    audit(web, account, "reminder_created", reminder.id)
    return RedirectResponse("/reminders", status_code=303)


@router.get("/reminders/{reminder_id}/edit")
async def edit_page(request: Request, reminder_id: int) -> Response:
    web, who, account = relative(request)
    reminder = _own(web, account, reminder_id)
    action = f"/reminders/{reminder_id}/edit"
    return render(web, request, who, "reminder_form.html", form=_form_of(reminder), errors={}, action=action)


@router.post("/reminders/{reminder_id}/edit")
def edit(request: Request, reminder_id: int, fields: Posted, csrf: Csrf = "") -> Response:
    web, who, account = relative(request)
    check_csrf(csrf, who.csrf)
    _own(web, account, reminder_id)
    wall = f"{fields.day}T{fields.clock}"
    try:
        web.book.update(reminder_id, fields.text, parse_wall(wall), rule_of(fields.repeat, fields.weekdays))
    except ReminderError as error:
        return _refused(web, request, who, fields, error, f"/reminders/{reminder_id}/edit")
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
