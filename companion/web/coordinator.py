"""The coordinator's page: the group catalogue — what the companion may point people toward.

A coordinator sees groups, never a household's reminders or conversations. Groups come from the shipped
catalogue, from a group's own calendar file (.ics, uploaded here) or from the coordinator's own form
(group_forms.py), and are retired when they stop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import insert

from companion.content import load_phrases
from companion.errors import SettingsError
from companion.mind.catalogue import COPENHAGEN
from companion.mind.consent import question_requested, request_question
from companion.reminders.recurrence import local
from companion.store.catalogue import catalogue_language, find_group, groups_on_offer, retire_group
from companion.store.database import writing
from companion.store.health import latest
from companion.store.schema import DEVICE_HOUSEHOLD, audit_log
from companion.usage.store import consent_of
from companion.web.accounts import Account
from companion.web.app import Visitor, Web, render, with_role
from companion.web.listing import clock_words, when_words
from companion.web.pairing import VALID_FOR, new_code, spoken_form
from companion.web.security import check_csrf

router = APIRouter()
MAX_CALENDAR = 2_000_000
"""Bytes: a group's calendar is a few kilobytes; anything this large is not one."""


def coordinator(request: Request) -> tuple[Web, Visitor]:
    """The signed-in coordinator; 401 when signed out, 403 for any other role."""
    return with_role(request, "coordinator")


def device_only(web: Web) -> None:
    """What concerns the one household of a device, not the hub's many (there: `companion households`)."""
    if web.hub:
        raise HTTPException(status_code=404)


def _page(web: Web, request: Request, who: Visitor, status: int = 200, **extra: object) -> Response:
    language = catalogue_language(web.database.engine)
    now = local(web.now()).replace(tzinfo=COPENHAGEN)
    listed = []
    for group, source in groups_on_offer(web.database.engine, language):
        session = group.upcoming(now)
        listed.append(
            {
                "id": group.id,
                "name": group.name,
                "place": group.place,
                "source": source,
                "next": when_words(session.replace(tzinfo=None), who.language) if session else "",
            }
        )
    counting = consent_of(web.database.engine, DEVICE_HOUSEHOLD)
    if web.hub:  # the hub's households are many: their devices, consent and codes are not this page's
        return render(web, request, who, "catalogue.html", status, groups=listed, on_the_hub=True, **extra)
    return render(
        web,
        request,
        who,
        "catalogue.html",
        status,
        groups=listed,
        health=_health(web, who),
        counting=counting.counted if counting else None,
        counting_asked=question_requested(web.database.engine),
        **extra,
    )


def _health(web: Web, who: Visitor) -> dict[str, object] | None:
    found = latest(web.database.engine)
    if found is None:
        return None
    minutes = max(0, int((web.now() - found.last_seen_utc).total_seconds() // 60))
    return {
        "minutes": minutes,
        "when": when_words(local(found.last_seen_utc), who.language),
        "microphone_ok": found.microphone_ok,
        "models_ok": found.models_ok,
        "problem": found.problem,
    }


@router.get("/catalogue")
async def catalogue_page(request: Request, saved: str = "") -> Response:
    web, who = coordinator(request)
    found = find_group(web.database.engine, saved) if saved else None
    return _page(web, request, who, saved=found.name if found else "")


@router.post("/catalogue/pairing-code")
def pairing_code(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """A code for a relative who is not at the device (the device says one when its button is held).

    The same code as the spoken one: once, for 10 minutes, void after 5 wrong tries. It is written in the
    audit log; and the person can always ask the device who can remind them, and remove anyone by voice.
    """
    web, who = coordinator(request)
    check_csrf(csrf, who.csrf)
    device_only(web)
    now = web.now()
    code = new_code(web.database.engine, DEVICE_HOUSEHOLD, now)
    assert who.account is not None  # coordinator() let only a signed-in coordinator through
    record_pairing_code(web, who.account, now)
    until = clock_words(local(now + VALID_FOR), who.language)
    return _page(web, request, who, code=spoken_form(code), code_until=until)


def record_pairing_code(web: Web, account: Account, now: datetime) -> None:
    """Who made a pairing code, and when, in the audit log (the code itself is never kept)."""
    with writing(web.database.engine) as connection:
        connection.execute(
            insert(audit_log).values(at_utc=now, account_id=account.id, action="pairing_code_made")
        )


@router.post("/catalogue/ask-consent")
def ask_consent(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Set-up: the device asks its person, at the next conversation, whether usage may be counted."""
    web, who = coordinator(request)
    check_csrf(csrf, who.csrf)
    device_only(web)
    request_question(web.database.engine, web.now())
    return RedirectResponse("/catalogue", status_code=303)


@router.post("/catalogue/{group_id}/retire")
def retire(request: Request, group_id: str, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    web, who = coordinator(request)
    check_csrf(csrf, who.csrf)
    if not retire_group(web.database.engine, group_id, web.now()):
        raise HTTPException(status_code=404)
    return RedirectResponse("/catalogue", status_code=303)


@router.post("/catalogue/import")
async def import_calendar(
    request: Request,
    calendar: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web, who = coordinator(request)
    check_csrf(csrf, who.csrf)
    from companion.store.ics import import_ics  # the icalendar library only where a calendar comes in

    data = await calendar.read(MAX_CALENDAR + 1)
    language = catalogue_language(web.database.engine)
    phrases = load_phrases(web.dialogs, language)
    places = {kind: phrases.say(f"remote_place_{kind}") for kind in ("online", "phone")}
    try:
        if len(data) > MAX_CALENDAR:
            raise SettingsError("The file is too large to be a group's calendar.")
        now = local(web.now()).replace(tzinfo=COPENHAGEN)
        imported = import_ics(web.database.engine, data, language, remote_places=places, now=now)
    except SettingsError as error:
        # In English: the reason names the event and the calendar's own field names (SUMMARY, DTSTART).
        return _page(web, request, who, 400, problem=error.message)
    return _page(web, request, who, imported=[group.name for group in imported])
