"""The coordinator's group forms: add a group to the catalogue, or change one.

A group's schedule is chosen on the page as a coordinator thinks of it — every week, every other week, on
some weeks of the month, or once — and kept as the RFC 5545 rule the device reads. A rule the page cannot
show (an imported calendar with moved and cancelled sessions) is kept as it is unless a new one is chosen.
A saved group is the coordinator's (source `coordinator`): a new shipped list never overwrites it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from companion.mind.catalogue import COPENHAGEN, Group, StepKind
from companion.reminders.recurrence import local
from companion.store.catalogue import FORMATS, catalogue_language, find_group, new_group_id, save_group
from companion.web.app import Visitor, Web, render
from companion.web.coordinator import coordinator
from companion.web.listing import WEEKDAYS
from companion.web.security import check_csrf

router = APIRouter()
Csrf = Annotated[str, Form(max_length=100)]
REPEATS = ("weekly", "fortnightly", "monthly", "once", "keep")
WEEKS_OF_MONTH = ("1", "2", "3", "4", "-1")
KINDS: tuple[StepKind, ...] = get_args(StepKind)
LIMITS = {"name": 200, "description": 2000, "place": 300, "contact": 300, "interests": 1000}
"""Characters per field: the `groups` columns, and what is sensible to say aloud."""
MINUTES = (15, 600)
FIRST_DAY_SPAN = timedelta(days=366)
"""A first session at most a year back (and ten years ahead)."""


class GroupFormError(Exception):
    """A field the coordinator must correct; `reason` picks the sentence shown next to it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class GroupFields:
    """What the new and the change form post (the same fields, read once)."""

    name: str
    description: str
    interests: str
    format: str
    place: str
    contact: str
    kind: str
    first_day: str
    start: str
    minutes: str
    repeat: str
    weekdays: list[str]
    weeks: list[str]

    @classmethod
    def posted(
        cls,
        name: Annotated[str, Form(max_length=5000)] = "",
        description: Annotated[str, Form(max_length=20000)] = "",
        interests: Annotated[str, Form(max_length=20000)] = "",
        format: Annotated[str, Form(max_length=20)] = "physical",
        place: Annotated[str, Form(max_length=5000)] = "",
        contact: Annotated[str, Form(max_length=5000)] = "",
        kind: Annotated[str, Form(max_length=20)] = "group",
        first_day: Annotated[str, Form(max_length=20)] = "",
        start: Annotated[str, Form(max_length=10)] = "",
        minutes: Annotated[str, Form(max_length=10)] = "",
        repeat: Annotated[str, Form(max_length=20)] = "weekly",
        weekdays: Annotated[list[str] | None, Form(max_length=7)] = None,  # how many days
        weeks: Annotated[list[str] | None, Form(max_length=5)] = None,
    ) -> GroupFields:
        return cls(
            name=" ".join(name.split()),
            description=description.strip(),
            interests=interests.strip(),
            format=format,
            place=" ".join(place.split()),
            contact=" ".join(contact.split()),
            kind=kind,
            first_day=first_day.strip(),
            start=start.strip(),
            minutes=minutes.strip(),
            repeat=repeat,
            weekdays=[day for day in WEEKDAYS if day in (weekdays or [])],
            weeks=[week for week in WEEKS_OF_MONTH if week in (weeks or [])],
        )

    @property
    def form(self) -> dict[str, object]:
        """The form as it was filled in, to show again with a refusal."""
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


Posted = Annotated[GroupFields, Depends(GroupFields.posted)]


# -- between the page's choices and the rule ---------------------------------------------------------


def rule_of(fields: GroupFields) -> str:
    """The RRULE for the page's choice of schedule (not for `keep`)."""
    days = ",".join(fields.weekdays)
    if fields.repeat == "once":
        return "FREQ=DAILY;COUNT=1"
    if not fields.weekdays:
        raise GroupFormError("schedule", "no_days")
    if fields.repeat == "weekly":
        return f"FREQ=WEEKLY;BYDAY={days}"
    if fields.repeat == "fortnightly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={days}"
    if not fields.weeks:
        raise GroupFormError("schedule", "no_weeks")
    return "FREQ=MONTHLY;BYDAY=" + ",".join(
        f"{week}{day}" for week in fields.weeks for day in fields.weekdays
    )


def schedule_of(rrule: str) -> tuple[str, list[str], list[str]]:
    """The page's choice for a rule: (repeat, weekdays, weeks of the month); `keep` when the page cannot
    show it (moved or cancelled sessions from a calendar, other intervals)."""
    parts = dict(part.partition("=")[::2] for part in rrule.strip().split(";"))
    named = parts.pop("BYDAY", "").split(",") if "BYDAY" in parts else []
    if parts == {"FREQ": "DAILY", "COUNT": "1"} and not named:
        return "once", [], []
    weekly = parts in ({"FREQ": "WEEKLY"}, {"FREQ": "WEEKLY", "INTERVAL": "2"})
    if weekly and named and all(day in WEEKDAYS for day in named):
        repeat = "fortnightly" if "INTERVAL" in parts else "weekly"
        return repeat, [day for day in WEEKDAYS if day in named], []
    if parts == {"FREQ": "MONTHLY"} and named:
        pairs = {(token[:-2], token[-2:]) for token in named}
        weeks = [week for week in WEEKS_OF_MONTH if any(w == week for w, _ in pairs)]
        days = [day for day in WEEKDAYS if any(d == day for _, d in pairs)]
        if pairs == {(week, day) for week in weeks for day in days} and weeks and days:
            return "monthly", days, weeks
    return "keep", [], []


def form_of(group: Group) -> dict[str, object]:
    repeat, days, weeks = schedule_of(group.rrule)
    return {
        "name": group.name,
        "description": group.description,
        "interests": "\n".join(group.interests),
        "format": group.format,
        "place": group.place,
        "contact": group.contact,
        "kind": group.kind,
        "first_day": group.first_day.isoformat() if group.first_day else "",
        "start": group.start.strftime("%H:%M"),
        "minutes": str(group.minutes),
        "repeat": repeat,
        "weekdays": days,
        "weeks": weeks,
    }


def group_of(fields: GroupFields, group_id: str, old: Group | None, now: datetime) -> Group:
    """The group the form describes, checked whole; GroupFormError names the first field to correct."""
    for field, limit in LIMITS.items():
        if len(getattr(fields, field)) > limit:
            raise GroupFormError(field, "too_long")
    if not fields.name:
        raise GroupFormError("name", "missing")
    if not fields.place:
        raise GroupFormError("place", "missing")
    if fields.format not in FORMATS or fields.kind not in KINDS:
        raise GroupFormError("format", "unknown")
    try:
        start = datetime.strptime(fields.start, "%H:%M").time()
    except ValueError:
        raise GroupFormError("start", "no_such_time") from None
    digits = fields.minutes.isascii() and fields.minutes.isdigit()
    if not digits or not MINUTES[0] <= int(fields.minutes) <= MINUTES[1]:
        raise GroupFormError("minutes", "minutes")
    try:
        first_day = date.fromisoformat(fields.first_day) if fields.first_day else None
    except ValueError:
        raise GroupFormError("first_day", "no_such_date") from None
    today = local(now).date()
    if first_day is not None and not today - FIRST_DAY_SPAN <= first_day <= today + FIRST_DAY_SPAN * 10:
        # A rule counted from centuries ago costs every page that lists the group its whole history.
        raise GroupFormError("first_day", "too_far")
    if fields.repeat == "keep" and old is not None:
        if start != old.start:
            # A calendar's moved and cancelled sessions are written at the old start.
            raise GroupFormError("start", "keep_start")
        rrule, first_day = old.rrule, old.first_day
    elif fields.repeat in REPEATS and fields.repeat != "keep":
        rrule = rule_of(fields)
        if first_day is None and fields.repeat in ("fortnightly", "once"):
            raise GroupFormError("first_day", "needed")
    else:
        raise GroupFormError("schedule", "no_days")
    interests = fields.interests.replace(",", "\n").splitlines()
    group = Group(
        id=group_id,
        name=fields.name,
        description=fields.description,
        interests=tuple(word.strip() for word in interests if word.strip()),
        format=fields.format,
        place=fields.place,
        rrule=rrule,
        start=start,
        minutes=int(fields.minutes),
        contact=fields.contact,
        kind=fields.kind,
        skills=old.skills if old is not None else (),
        first_day=first_day,
    )
    if group.upcoming(local(now).replace(tzinfo=COPENHAGEN)) is None:
        raise GroupFormError("schedule", "no_sessions")
    return group


# -- the pages ---------------------------------------------------------------------------------------


def _form_page(
    web: Web,
    request: Request,
    who: Visitor,
    action: str,
    form: dict[str, object],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(web, request, who, "group_form.html", status, action=action, form=form, errors=errors or {})


@router.get("/catalogue/new")
async def new_group_form(request: Request) -> Response:
    web, who = coordinator(request)
    return _form_page(web, request, who, "/catalogue/new", {"repeat": "weekly", "format": "physical"})


@router.post("/catalogue/new")
def add_group(request: Request, fields: Posted, csrf: Csrf = "") -> Response:
    web, who = coordinator(request)
    check_csrf(csrf, who.csrf)
    engine = web.database.engine
    try:
        group = group_of(fields, new_group_id(engine, fields.name), None, web.now())
    except GroupFormError as error:
        return _form_page(web, request, who, "/catalogue/new", fields.form, {error.field: error.reason}, 400)
    save_group(engine, group, catalogue_language(engine), web.now())
    return RedirectResponse(f"/catalogue?saved={group.id}", status_code=303)


def _found(web: Web, group_id: str) -> Group:
    found = find_group(web.database.engine, group_id)
    if found is None:
        raise HTTPException(status_code=404)
    return found


@router.get("/catalogue/{group_id}/edit")
async def change_group_form(request: Request, group_id: str) -> Response:
    web, who = coordinator(request)
    group = _found(web, group_id)
    return _form_page(web, request, who, f"/catalogue/{group.id}/edit", form_of(group))


@router.post("/catalogue/{group_id}/edit")
def change_group(request: Request, group_id: str, fields: Posted, csrf: Csrf = "") -> Response:
    web, who = coordinator(request)
    check_csrf(csrf, who.csrf)
    old = _found(web, group_id)
    action = f"/catalogue/{old.id}/edit"
    try:
        group = group_of(fields, old.id, old, web.now())
    except GroupFormError as error:
        return _form_page(web, request, who, action, fields.form, {error.field: error.reason}, 400)
    engine = web.database.engine
    save_group(engine, group, catalogue_language(engine), web.now())
    return RedirectResponse(f"/catalogue?saved={group.id}", status_code=303)
