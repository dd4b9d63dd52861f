"""Telling systemd how the companion is doing: READY once it serves, WATCHDOG while its loop turns, and
STATUS in words (what `systemctl status companion` shows a coordinator).

This is the sd_notify protocol — datagrams of "KEY=value" lines to the unix socket named in $NOTIFY_SOCKET
("@…" names an abstract socket) — in a few lines rather than a package. Outside systemd (no
$NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

from companion.errors import CompanionError
from companion.events import DeviceFault, Event
from hardware.base import Light, LightPattern

log = logging.getLogger(__name__)


class Notifier:
    def __init__(
        self, environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat: float | None = None
        self.watchdog_interval: float | None = None
        """Seconds between watchdog pings (half of systemd's WatchdogSec); None when there is no watchdog."""
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 2_000_000

    @property
    def active(self) -> bool:
        """Running under systemd (Type=notify)."""
        return bool(self._address)

    def send(self, **fields: str) -> bool:
        """One datagram; False (and a log line) when systemd cannot be told — never an exception."""
        if not self._address:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError as error:
            log.warning("could not tell systemd %s: %s", ",".join(fields), error)
            return False
        return True

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def stopping(self) -> None:
        self.send(STOPPING="1", STATUS="stopping")

    def beat(self) -> None:
        """The loop is alive: ping the watchdog (at most every quarter of WatchdogSec, however often
        called)."""
        if self.watchdog_interval is None:
            return
        now = self._clock()
        with self._lock:
            if self._last_beat is not None and now - self._last_beat < self.watchdog_interval / 2:
                return
            self._last_beat = now
        self.send(WATCHDOG="1")


class StatusLine:
    """What `systemctl status companion` says while running: "listening", or what is missing — every part
    at once (an observer of the device's events)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self._missing: set[str] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, DeviceFault):
            before = set(self._missing)
            self._missing.discard(event.part)
            self._missing |= {event.part} if event.missing else set()
            if self._missing != before:
                self._notifier.status(self.text())

    def text(self) -> str:
        return f"missing: {', '.join(sorted(self._missing))}" if self._missing else "listening"


HOLD_S = 300.0
"""How long a start-up fault is held before the companion exits to be started afresh by systemd: so a
model installed meanwhile, or memory freed, is noticed without anyone restarting it — and so slowly that
systemd's start limit (5 in 10 minutes) is never reached."""


def hold_fault(error: CompanionError, notifier: Notifier, light: Light, seconds: float = HOLD_S) -> None:
    """A fault that keeps the companion from starting (a model missing, damaged or too large), under
    systemd: held rather than exited at once. Exiting would have systemd start it again every few seconds,
    each time failing the same way; held, the light keeps showing the fault, `systemctl status` says what
    it is, and `companion doctor` names the fix. Returns after `seconds` (or by SIGTERM's exception)."""
    light.show(LightPattern.ERROR)
    log.error("cannot start: %s", error)
    notifier.ready(f"cannot start: {error.message} Run: companion doctor")
    pause = min(notifier.watchdog_interval or 5.0, 5.0) / 2
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        notifier.beat()
        time.sleep(pause)
