"""The web application: FastAPI with server-rendered Jinja2 pages, so every task works without JavaScript.

`create_app()` is cheap and opens nothing: it is given the open database and the clock, so tests run it
in-process (FastAPI's TestClient) on a hand-moved clock. Who may see what is decided per object by each
router (pages, reminder_forms, api, coordinator): a relative sees only their own household's reminders, a
coordinator only the catalogue and the device's health.
"""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from companion.errors import StoreError
from companion.reminders.book import ReminderBook
from companion.settings import UsageSettings, WebSettings
from companion.store.database import Database, utc_now
from companion.web.accounts import Account, Sessions, Throttle
from companion.web.i18n import choose_language, translations
from companion.web.listing import HouseholdViews
from companion.web.security import FORM_COOKIE, SESSION_COOKIE, SecurityHeaders, set_cookie

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
WORKER_THREADS = 8
"""Threads for the handlers that write (forms, the API's changes). Handlers that only read run on the event
loop itself: SQLite reads in WAL mode never wait for a writer, and a thread hand-off per page cost more
than the page's own work (benchmarks/WEB.md)."""
HUB_WORKER_THREADS = 24
"""The hub's threads: more than SQLAlchemy's pool of PostgreSQL connections (5 + 10), so none stands idle."""
LANGUAGE_COOKIE = "companion_language"


@dataclass
class Web:
    """What every request handler needs, made once per app."""

    database: Database
    settings: WebSettings
    now: Callable[[], datetime] = utc_now
    dialogs: Path = field(default_factory=lambda: Path(__file__).resolve().parents[2] / "dialogs")
    """The phrase catalogs (where an imported online group "meets", in the device's words)."""
    usage: UsageSettings = field(default_factory=UsageSettings)
    """How small a number the evaluator's page hides."""
    hub: bool = False
    """Serving many households from PostgreSQL (`companion hub`): the evaluator sees the whole fleet."""
    templates: Jinja2Templates = field(init=False)
    sessions: Sessions = field(init=False)
    throttle: Throttle = field(init=False)
    book: ReminderBook = field(init=False)
    views: HouseholdViews = field(init=False)

    def __post_init__(self) -> None:
        self.templates = Jinja2Templates(directory=HERE / "templates")
        # The templates ship with the program: no need to look at their files on every page.
        self.templates.env.auto_reload = False
        self.sessions = Sessions(self.database.engine, timedelta(days=self.settings.session_days))
        self.throttle = Throttle(self.database.engine)
        self.book = ReminderBook(self.database.engine, self.now)
        self.views = HouseholdViews(self.book, self.now)


def _on_this_site(path: str) -> bool:
    """A path on this site only: "//evil.example" and "/\\evil.example" are other sites to a browser."""
    return path.startswith("/") and not path.startswith(("//", "/\\")) and "\n" not in path


def start_page(role: str) -> str:
    """Where each role starts: a relative's reminders, a coordinator's catalogue, an evaluator's page."""
    return {"relative": "/reminders", "coordinator": "/catalogue"}.get(role, "/evaluation")


@dataclass(frozen=True)
class Visitor:
    """Who is asking, in which language, and the CSRF token their forms must carry."""

    account: Account | None
    language: str
    csrf: str
    new_form_token: bool = False
    """A token made for this visit (no session yet): set as a cookie on the response."""


def visitor(web: Web, request: Request) -> Visitor:
    found = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = web.sessions.find(token, web.now())
    account, csrf = found if found is not None else (None, "")
    language = choose_language(
        request.cookies.get(LANGUAGE_COOKIE),
        account.language if account else None,
        request.headers.get("accept-language", ""),
    )
    if account is not None:
        return Visitor(account, language, csrf)
    form_token = request.cookies.get(FORM_COOKIE)
    return Visitor(None, language, form_token or secrets.token_urlsafe(32), new_form_token=not form_token)


def with_role(request: Request, role: str) -> tuple[Web, Visitor]:
    """The signed-in visitor if their account has `role`: 401 when signed out, 403 for any other role."""
    web: Web = request.app.state.web
    who = visitor(web, request)
    if who.account is None:
        raise HTTPException(status_code=401)
    if who.account.role != role:
        raise HTTPException(status_code=403)
    return web, who


def render(
    web: Web, request: Request, who: Visitor, template: str, status: int = 200, **values: Any
) -> Response:
    gettext = translations(who.language).gettext
    context = {"_": gettext, "who": who, "lang": who.language, "path": request.url.path, **values}
    response = web.templates.TemplateResponse(request, template, context, status_code=status)
    if who.new_form_token:
        set_cookie(response, request, FORM_COOKIE, who.csrf, max_age=None)
    return response


def create_app(
    database: Database,
    settings: WebSettings | None = None,
    now: Callable[[], datetime] = utc_now,
    dialogs: Path | None = None,
    usage: UsageSettings | None = None,
    hub: bool = False,
) -> FastAPI:
    """The web app; with `hub`, also the devices' sync endpoints (companion/hub/api.py)."""
    from companion.web import api, api_groups, coordinator, evaluation, group_forms, pages, reminder_forms

    web = Web(database, settings or WebSettings(), now)
    if dialogs is not None:
        web.dialogs = dialogs
    if usage is not None:
        web.usage = usage
    web.hub = hub

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # A household's page has a handful of visitors: a few worker threads serve them, where the default
        # forty would each keep memory of their own (and fight over the GIL on two cores).
        # The hub serves many devices' syncs, each mostly waiting on PostgreSQL: more threads pay there.
        to_thread.current_default_thread_limiter().total_tokens = (
            HUB_WORKER_THREADS if hub else WORKER_THREADS
        )
        # What was made at start-up lives as long as the process: the garbage collector need not walk
        # through it again and again while pages are served.
        gc.freeze()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="companion",
        summary="Reminders for a household's companion, set by its relatives.",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(reminder_forms.router)
    app.include_router(coordinator.router)
    app.include_router(group_forms.router)
    app.include_router(evaluation.router)
    app.include_router(api.router)
    app.include_router(api_groups.router)
    if hub:
        from companion.hub import api as sync_api

        app.include_router(sync_api.router)

    @app.exception_handler(StarletteHTTPException)
    async def plain_error(request: Request, error: StarletteHTTPException) -> Response:
        # In the visitor's language, on a page with the site's look; never a stack trace.
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": error.detail}, status_code=error.status_code)
        if error.status_code == 401:
            return RedirectResponse("/login", status_code=303)
        who = visitor(web, request)
        messages = {403: "forbidden", 404: "not_found"}
        return render(
            web, request, who, "error.html", error.status_code, kind=messages.get(error.status_code, "other")
        )

    @app.exception_handler(RequestValidationError)
    async def unreadable_form(request: Request, error: RequestValidationError) -> Response:
        # A form field far too long, a path that is not a number: the API says which, a page says so plainly.
        if request.url.path.startswith("/api/"):
            # Which field and why, but never what was sent back: it may not even be writable text (JSON
            # can carry half a character), and it may be a password.
            said = [
                {key: value for key, value in e.items() if key not in ("input", "ctx")}
                for e in error.errors()
            ]
            return JSONResponse({"detail": jsonable_encoder(said)}, status_code=422)
        return render(web, request, visitor(web, request), "error.html", 400, kind="other")

    async def database_refused(request: Request, error: Exception) -> Response:
        # Text the database cannot hold (PostgreSQL refuses a NUL character) is the sender's to fix: as
        # unreadable as a form field far too long. Anything else is the database not answering now.
        unreadable = isinstance(error, DataError) or isinstance(error.__cause__, DataError)
        status = (422 if request.url.path.startswith("/api/") else 400) if unreadable else 503
        if not unreadable:
            log.error("the database failed a request to %s: %s", request.url.path, error)
        if request.url.path.startswith("/api/"):
            reason = {"reason": "unreadable" if unreadable else "try_again", "field": ""}  # the API's Problem
            return JSONResponse({"detail": reason}, status_code=status)
        # Who is asking is not looked up: the database may be what is failing. The page's own language.
        language = choose_language(
            request.cookies.get(LANGUAGE_COOKIE), None, request.headers.get("accept-language", "")
        )
        anyone = Visitor(None, language, "")
        return render(web, request, anyone, "error.html", status, kind="other")

    app.add_exception_handler(StoreError, database_refused)
    app.add_exception_handler(DataError, database_refused)  # a read not wrapped as a StoreError

    @app.get("/language/{code}")
    async def switch_language(code: str, request: Request, back: str = "/") -> Response:
        response = RedirectResponse(back if _on_this_site(back) else "/", status_code=303)
        if code in ("da", "en"):
            set_cookie(response, request, LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600)
        return response

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        who = visitor(web, request)
        return RedirectResponse(start_page(who.account.role) if who.account else "/login", status_code=303)

    return app
