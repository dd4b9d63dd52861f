"""The JSON API's groups and device: what the coordinator's and the relatives' group pages do, for clients.

Relatives list the groups of the next two weeks and suggest one; a coordinator adds, changes and retires
groups, makes a pairing code and reads the device's health. The same checks as the pages
(group_forms.group_of), the same refusal reasons.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field

from companion.mind.catalogue import COPENHAGEN, Group
from companion.reminders.recurrence import local, wall_text
from companion.store.catalogue import (
    catalogue_language,
    find_group,
    new_group_id,
    retire_group,
    save_group,
)
from companion.store.health import latest
from companion.store.household import suggest_group
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.web.api import Problem, Weekday, bearer, problem, web_of
from companion.web.app import Web
from companion.web.coordinator import record_pairing_code
from companion.web.group_forms import GroupFields, GroupFormError, group_of
from companion.web.listing import groups_on_offer
from companion.web.pairing import VALID_FOR, new_code

router = APIRouter(prefix="/api", tags=["api"])
Authorization = Annotated[str | None, Header()]
WeekOfMonth = Literal["1", "2", "3", "4", "-1"]


class GroupIn(BaseModel):
    name: str = Field(max_length=5000)
    description: str = Field(default="", max_length=20000)
    interests: list[str] = Field(default_factory=list, max_length=50)
    format: Literal["physical", "online", "phone"] = "physical"
    kind: Literal["group", "volunteer"] = "group"
    place: str = Field(max_length=5000)
    contact: str = Field(default="", max_length=5000)
    first_day: str = Field(default="", max_length=20, description="YYYY-MM-DD: the first session's day")
    start: str = Field(max_length=10, description="HH:MM, Copenhagen wall time")
    minutes: int = Field(ge=0, le=100_000)
    repeat: Literal["weekly", "fortnightly", "monthly", "once", "keep"] = "weekly"
    weekdays: list[Weekday] = Field(default_factory=list, max_length=7)
    weeks: list[WeekOfMonth] = Field(default_factory=list, max_length=5)

    def fields(self) -> GroupFields:
        return GroupFields.posted(
            name=self.name,
            description=self.description,
            interests="\n".join(word.replace("\n", " ") for word in self.interests),
            format=self.format,
            place=self.place,
            contact=self.contact,
            kind=self.kind,
            first_day=self.first_day,
            start=self.start,
            minutes=str(self.minutes),
            repeat=self.repeat,
            weekdays=list(self.weekdays),
            weeks=list(self.weeks),
        )


class GroupOut(BaseModel):
    id: str
    name: str
    description: str
    format: str
    kind: str
    place: str
    contact: str
    rrule: str
    start: str
    minutes: int
    next_at: str | None = Field(description="The next session, Copenhagen wall time; null when none is left")


class DeviceHealth(BaseModel):
    last_seen_utc: str
    microphone_ok: bool
    models_ok: bool
    problem: str


class PairingCode(BaseModel):
    code: str = Field(description="Eight digits for the relative to type; valid once")
    valid_until_utc: str


def _out(group: Group, now_utc: datetime) -> GroupOut:
    session = group.upcoming(local(now_utc).replace(tzinfo=COPENHAGEN))
    return GroupOut(
        id=group.id,
        name=group.name,
        description=group.description,
        format=group.format,
        kind=group.kind,
        place=group.place,
        contact=group.contact,
        rrule=group.rrule,
        start=group.start.strftime("%H:%M"),
        minutes=group.minutes,
        next_at=wall_text(session.replace(tzinfo=None)) if session else None,
    )


@router.get("/groups", response_model=list[GroupOut], responses={401: {"model": Problem}})
async def list_groups(request: Request, authorization: Authorization = None) -> list[GroupOut]:
    """Every group on offer (a relative sees the same groups as a coordinator: the catalogue is public)."""
    web = web_of(request)
    account = bearer(web, authorization, "relative", "coordinator")
    language = account.language if account.role == "relative" else catalogue_language(web.database.engine)
    now = web.now()
    return [_out(group, now) for group in groups_on_offer(web.database.engine, language)]


@router.post("/groups/{group_id}/suggest", status_code=204, responses={404: {"model": Problem}})
def suggest(group_id: str, request: Request, authorization: Authorization = None) -> Response:
    """The companion mentions the group in the person's next conversation, naming the relative."""
    web = web_of(request)
    account = bearer(web, authorization)
    if find_group(web.database.engine, group_id) is None:
        raise problem(404, "not_found")
    suggest_group(
        web.database.engine, account.household_id or 0, group_id, account.id, account.name, web.now()
    )
    return Response(status_code=204)


def _checked(web: Web, body: GroupIn, group_id: str, old: Group | None) -> Group:
    try:
        return group_of(body.fields(), group_id, old, web.now())
    except GroupFormError as error:
        raise problem(400, error.reason, error.field) from error


@router.post("/groups", response_model=GroupOut, status_code=201, responses={400: {"model": Problem}})
def add_group(body: GroupIn, request: Request, authorization: Authorization = None) -> GroupOut:
    web = web_of(request)
    bearer(web, authorization, "coordinator")
    engine = web.database.engine
    group = _checked(web, body, new_group_id(engine, body.name), None)
    save_group(engine, group, catalogue_language(engine), web.now())
    return _out(group, web.now())


@router.put(
    "/groups/{group_id}",
    response_model=GroupOut,
    responses={400: {"model": Problem}, 404: {"model": Problem}},
)
def change_group(
    group_id: str, body: GroupIn, request: Request, authorization: Authorization = None
) -> GroupOut:
    web = web_of(request)
    bearer(web, authorization, "coordinator")
    engine = web.database.engine
    old = find_group(engine, group_id)
    if old is None:
        raise problem(404, "not_found")
    group = _checked(web, body, old.id, old)
    save_group(engine, group, catalogue_language(engine), web.now())
    return _out(group, web.now())


@router.delete("/groups/{group_id}", status_code=204, responses={404: {"model": Problem}})
def retire(group_id: str, request: Request, authorization: Authorization = None) -> Response:
    """The group is no longer offered (suggestions and reminders that name it stay readable)."""
    web = web_of(request)
    bearer(web, authorization, "coordinator")
    if find_group(web.database.engine, group_id) is None:
        raise problem(404, "not_found")
    retire_group(web.database.engine, group_id, web.now())
    return Response(status_code=204)


@router.get("/device", response_model=DeviceHealth, responses={404: {"model": Problem}})
async def device_health(request: Request, authorization: Authorization = None) -> DeviceHealth:
    """When the device last reported, and whether its microphone and models work — never any content."""
    web = web_of(request)
    bearer(web, authorization, "coordinator")
    if web.hub:
        raise problem(404, "not_on_the_hub")  # many devices there: `companion devices list`
    found = latest(web.database.engine)
    if found is None:
        raise problem(404, "not_reported")
    return DeviceHealth(
        last_seen_utc=found.last_seen_utc.isoformat(timespec="seconds"),
        microphone_ok=found.microphone_ok,
        models_ok=found.models_ok,
        problem=found.problem,
    )


@router.post("/pairing-code", response_model=PairingCode, status_code=201)
def pairing_code(request: Request, authorization: Authorization = None) -> PairingCode:
    """A code for a relative who is not at the device, as on the coordinator's page (and audited)."""
    web = web_of(request)
    account = bearer(web, authorization, "coordinator")
    if web.hub:
        raise problem(404, "not_on_the_hub")  # many households there: `companion households pair-code`
    now = web.now()
    code = new_code(web.database.engine, DEVICE_HOUSEHOLD, now)
    record_pairing_code(web, account, now)
    return PairingCode(code=code, valid_until_utc=(now + VALID_FOR).isoformat(timespec="seconds"))
