"""The device's link to its hub and the sync it runs once a minute (docs/hub-sync.md).

Outbound only: the device asks, the hub answers; no port is opened at home. HTTPS, except to this machine
itself (a reverse proxy on the same host, or the tests). The speech loop never waits for the hub: sync runs
on a thread of its own, and a hub out of reach only means the device goes on with its own copy.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from companion.errors import CompanionError, HubError
from companion.hub.replica import (
    PUSHED,
    apply_page,
    changed_occurrences,
    keep_state,
    needs_fresh_copy,
    outbox,
    pulled_version,
    read_state,
    told,
)
from companion.store.health import latest
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.usage.store import consent_of
from companion.usage.summary import device_summary, last_weeks

log = logging.getLogger(__name__)

CREDENTIAL_FILE = "hub-credential"
SUMMARY_WEEKS = 8
"""The weeks of counts sent each day: the evaluator's page shows eight."""
_HEALTH, _SUMMARY_DAY, _PSEUDONYM = "pushed_health", "summary_day", "summary_pseudonym"
PROBLEM, REFUSED, LAST_OK = "problem", "refused", "last_ok_utc"
"""What `companion doctor` reads: the sync's failure now (empty when it works), whether it is the hub
refusing the credential ("yes"), and when it last worked."""
_NOTE_OK_EVERY = timedelta(minutes=15)
"""How often a working sync says so in the database: rarely enough not to wear the SD card."""


def credential_path(data_dir: Path) -> Path:
    return data_dir / CREDENTIAL_FILE


def save_credential(data_dir: Path, credential: str) -> Path:
    """Kept owner-only: whoever reads it can speak for this household's device."""
    path = credential_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(credential.strip() + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return path


def read_credential(data_dir: Path) -> str:
    path = credential_path(data_dir)
    try:
        credential = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        credential = ""
    if not credential:
        raise HubError(
            f"[hub] url is set, but this device has no credential for it ({path}).",
            "Ask the hub's coordinator for one (companion devices add), then run: companion hub-join",
        )
    return credential


def _outbound_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return url.rstrip("/")
    raise HubError(
        f"[hub] url = {url!r}: a device speaks to its hub over HTTPS only.",
        'Write it as "https://hub.example.dk" (the hub\'s address behind its TLS proxy).',
    )


class HubLink:
    """Requests to the hub with this device's credential; every failure a HubError in plain words."""

    def __init__(self, url: str, credential: str, ca_file: str = "", timeout_s: float = 20.0) -> None:
        import httpx  # only a device with a hub needs it

        self.url = _outbound_url(url)
        self._httpx = httpx
        try:
            trust: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        except (OSError, ssl.SSLError) as error:
            raise HubError(
                f"[hub] ca_file = {ca_file!r} cannot be used: {error}.",
                "Give the hub's CA certificate (PEM), or leave ca_file empty for a publicly trusted hub.",
            ) from error
        self._client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {credential}"},
            verify=trust,
            timeout=timeout_s,
        )

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, **options)
        except self._httpx.HTTPError as error:
            raise HubError(
                f"The hub at {self.url} cannot be reached ({type(error).__name__}: {error}).",
                "The device goes on with its own copy and tries again in a minute; check the network.",
            ) from error
        if response.status_code == 401:
            raise HubError(
                f"The hub at {self.url} refused this device's credential (revoked, or never made there).",
                "Ask the hub's coordinator for a new one, then run: companion hub-join",
                refused=True,
            )
        if response.status_code >= 400:
            raise HubError(f"The hub at {self.url} answered {response.status_code} to {method} {path}.")
        try:
            found = response.json()
        except ValueError as error:
            raise HubError(
                f"The hub at {self.url} answered {path} with something that is not JSON."
            ) from error
        if not isinstance(found, dict):
            raise HubError(f"The hub at {self.url} answered {path} with something sync cannot use.")
        return found

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class SyncReport:
    pulled: int
    """Rows changed here: reminders and groups added, changed or deleted."""
    pushed: int
    """Occurrence states sent."""


OUTBOX_REQUESTS = (("reminder", "deletions", "reminders"), ("mentioned", "mentioned", "suggestions"))
"""The outbox's kinds: the request each goes in, and the list it fills there."""


def sync_once(engine: Engine, link: HubLink, now: Callable[[], datetime], today: date) -> SyncReport:
    """One exchange: every page of changes, then every occurrence state not yet sent, the device's health
    when it changed, and the weekly counts once a day (or at once when the person's consent changed)."""
    # What the person did to the hub's rows goes first: a reminder deleted here must not come back with the
    # pull (a relative's edit of it in between), and a copy being replaced must not lose it.
    for kind, path, field in (
        ("reminder", "deletions", "reminders"),
        ("mentioned", "mentioned", "suggestions"),
    ):
        while True:
            ids, last = outbox(engine, kind)
            if not ids:
                break
            link.post(f"/api/sync/{path}", {field: ids})
            told(engine, kind, last)
    pulled = 0
    while True:
        since = pulled_version(engine)
        page = link.get("/api/sync/changes", since=since)
        try:
            fresh = needs_fresh_copy(engine, page)
            if fresh:
                log.warning("the hub's copy is another one now (restored, or another household): replacing")
                since = 0
                page = link.get("/api/sync/changes", since=0)
            pulled += apply_page(engine, page, now(), fresh=fresh)
        except (KeyError, TypeError, ValueError) as error:  # nothing of such a page was kept
            raise HubError(f"The hub at {link.url} sent changes sync cannot use ({error!r}).") from error
        if not page.get("more"):
            break
        if int(page["up_to"]) <= since:
            raise HubError(f"The hub at {link.url} says there is more, but sends nothing after {since}.")
    sent = 0
    while True:
        items, up_to = changed_occurrences(engine)
        if up_to == int(read_state(engine, PUSHED, "0")):
            break
        if items:
            link.post("/api/sync/occurrences", {"occurrences": items})
        keep_state(engine, PUSHED, str(up_to))
        sent += len(items)
    health = latest(engine)
    if health is not None and repr(health) != read_state(engine, _HEALTH):
        body = {**asdict(health), "last_seen_utc": health.last_seen_utc.isoformat()}
        link.post("/api/sync/health", body)
        keep_state(engine, _HEALTH, repr(health))
    _push_summary(engine, link, today)
    return SyncReport(pulled, sent)


def _push_summary(engine: Engine, link: HubLink, today: date) -> None:
    consent = consent_of(engine, DEVICE_HOUSEHOLD)
    pseudonym = consent.pseudonym if consent is not None and consent.counted else ""
    before = read_state(engine, _PSEUDONYM)
    if read_state(engine, _SUMMARY_DAY) == today.isoformat() and before == pseudonym:
        return
    summary = device_summary(engine, DEVICE_HOUSEHOLD, last_weeks(today, SUMMARY_WEEKS))
    link.post("/api/sync/summary", {"summary": summary, "withdrawn": before if before != pseudonym else ""})
    keep_state(engine, _PSEUDONYM, pseudonym)
    keep_state(engine, _SUMMARY_DAY, today.isoformat())


class HubSync:
    """`sync_once` every `every`, on its own thread; a failure is logged when it starts and when it ends,
    not every minute, and kept for `companion doctor` (`problem`)."""

    def __init__(
        self,
        engine: Engine,
        link: HubLink,
        now: Callable[[], datetime],
        today: Callable[[], date],
        every: timedelta = timedelta(minutes=1),
    ) -> None:
        self.engine = engine
        self.link = link
        self.now = now
        self.today = today
        self.every = every
        self.problem = ""
        self.last_report: SyncReport | None = None
        self._noted_ok: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-sync", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.link.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.round()
            self._wake.wait(self.every.total_seconds())
            self._wake.clear()

    def round(self) -> None:
        try:
            self.last_report = sync_once(self.engine, self.link, self.now, self.today())
        except Exception as error:  # a failing sync must never end the device's thread
            message = error.message if isinstance(error, HubError) else f"{type(error).__name__}: {error}"
            if message != self.problem:
                log.error("sync with the hub failed: %s", message)
                self._note(PROBLEM, message)
                self._note(REFUSED, "yes" if isinstance(error, HubError) and error.refused else "")
            self.problem = message
            return
        now = self.now()
        if self.problem:
            log.info("sync with the hub works again")
        if self.problem or self._noted_ok is None:  # also what an earlier run left for the doctor
            self._note(PROBLEM, "")
            self._note(REFUSED, "")
        if self.problem or self._noted_ok is None or now - self._noted_ok >= _NOTE_OK_EVERY:
            self._note(LAST_OK, now.isoformat(timespec="seconds"))
            self._noted_ok = now
        self.problem = ""

    def _note(self, name: str, value: str) -> None:
        try:
            keep_state(self.engine, name, value[:100])
        except CompanionError as error:  # a full disk: the log has said it
            log.warning("could not note the sync's state: %s", error)
