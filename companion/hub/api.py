"""The hub's sync endpoints (only `companion hub` serves them): a device presents its credential as a bearer
token; an unknown or revoked one gets 401, and nothing else is said about it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import AfterValidator, BaseModel, Field

from companion.hub import changes as hub
from companion.hub.devices import Device, device_of
from companion.web.app import Web

router = APIRouter(prefix="/api/sync", tags=["sync"])
Authorization = Annotated[str | None, Header()]
INT_MAX, BIGINT_MAX = 2**31 - 1, 2**63 - 1
"""PostgreSQL's integer and bigint: a larger number is refused as unreadable (422), not failed on (500)."""


def _naive_utc(value: datetime) -> datetime:
    """Instants as the hub keeps them (naive UTC), and only plausible ones: a device's clock far off is
    refused as unreadable rather than stored."""
    try:
        value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    except OverflowError as error:
        raise ValueError("not a time a device could have") from error
    if not 2000 <= value.year <= 2200:
        raise ValueError("not a time a device could have")
    return value


Instant = Annotated[datetime, AfterValidator(_naive_utc)]
WallTime = Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d$")]


class OccurrenceState(BaseModel):
    reminder_id: int = Field(ge=1, le=INT_MAX, description="The hub's id of the reminder.")
    due_at: WallTime
    lead: Literal["at", "morning", "before"]
    speak_utc: Instant
    state: Literal["pending", "delivering", "delivered", "acknowledged", "missed"]
    attempts: int = Field(ge=0, le=1000)
    last_attempt_utc: Instant | None = None
    change: int = Field(
        ge=1, le=INT_MAX, description="The device's own counter of this change: the higher wins."
    )


class Occurrences(BaseModel):
    occurrences: list[OccurrenceState] = Field(max_length=2000)


class DeviceHealth(BaseModel):
    last_seen_utc: Instant
    microphone_ok: bool
    models_ok: bool
    # Text the hub's database can hold: no NUL (PostgreSQL refuses it in text).
    problem: Annotated[str, Field(max_length=300), AfterValidator(lambda text: text.replace("\x00", ""))]


class Summary(BaseModel):
    summary: dict[str, Any]
    withdrawn: str = Field(default="", max_length=32, description="A pseudonym whose counts are to go.")


class Deletions(BaseModel):
    reminders: list[Annotated[int, Field(ge=1, le=INT_MAX)]] = Field(max_length=2000)


class Taken(BaseModel):
    taken: int


def _device(request: Request, authorization: str | None) -> tuple[Web, Device]:
    web: Web = request.app.state.web
    scheme, _, credential = (authorization or "").partition(" ")
    device = device_of(web.database.engine, credential.strip()) if scheme.lower() == "bearer" else None
    if device is None:
        raise HTTPException(401, "unknown or revoked device", headers={"WWW-Authenticate": "Bearer"})
    return web, device


@router.get("/changes")
def changes(
    request: Request,
    authorization: Authorization = None,
    since: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> dict[str, Any]:
    """Reminders of this device's household and the catalogue changed after `since`, a page at a time."""
    web, device = _device(request, authorization)
    hub.mark_seen(web.database.engine, device, web.now())
    return hub.changes_since(web.database.engine, device, since)


@router.post("/occurrences")
def occurrences(request: Request, body: Occurrences, authorization: Authorization = None) -> Taken:
    web, device = _device(request, authorization)
    items = [item.model_dump() for item in body.occurrences]
    return Taken(taken=hub.receive_occurrences(web.database.engine, device, items, web.now()))


@router.post("/health")
def health(request: Request, body: DeviceHealth, authorization: Authorization = None) -> Taken:
    web, device = _device(request, authorization)
    hub.receive_health(web.database.engine, device, body.model_dump())
    return Taken(taken=1)


@router.post("/summary")
def summary(request: Request, body: Summary, authorization: Authorization = None) -> Taken:
    web, device = _device(request, authorization)
    if not hub.summary_is_sound(body.summary) or (body.withdrawn and not body.withdrawn.isalnum()):
        raise HTTPException(422, "not a companion usage summary")
    return Taken(taken=hub.receive_summary(web.database.engine, device, body.summary, body.withdrawn))


@router.post("/deletions")
def deletions(request: Request, body: Deletions, authorization: Authorization = None) -> Taken:
    """Reminders of the hub the person deleted on the device."""
    web, device = _device(request, authorization)
    return Taken(taken=hub.receive_deletions(web.database.engine, device, body.reminders))


class Mentioned(BaseModel):
    suggestions: list[Annotated[int, Field(ge=1, le=INT_MAX)]] = Field(max_length=2000)


@router.post("/mentioned")
def mentioned(request: Request, body: Mentioned, authorization: Authorization = None) -> Taken:
    """Relatives' group suggestions the companion has now mentioned to the person."""
    web, device = _device(request, authorization)
    return Taken(taken=hub.receive_mentioned(web.database.engine, device, body.suggestions, web.now()))
