"""The scheduler's clock: injectable, so daylight-saving changes, jumps and downtime are testable.

A Pi has no real-time clock: until NTP has set the time it boots at whatever time it last saved, so a
clock that is not known to be synchronised must not make reminders fire (they would be days off).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol

from companion.store.database import utc_now

log = logging.getLogger(__name__)

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
"""systemd-timesyncd creates this file once it has set the clock from NTP."""
_TIME_ERROR = 5
"""adjtimex()'s answer while the kernel considers the clock unsynchronised (from <sys/timex.h>)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """Now, as a naive UTC datetime."""
        ...

    def synchronised(self) -> bool: ...

    def sleep(self, wake: threading.Event, seconds: float) -> None:
        """Sleep up to `seconds`, returning early when `wake` is set."""
        ...


class _Timex(ctypes.Structure):
    # struct timex is larger than its first field; the kernel only reads `modes` (0: change nothing).
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 256)]


def kernel_clock_synchronised() -> bool | None:
    """The kernel's own view (adjtimex), or None where it cannot be asked."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        adjtimex = ctypes.CDLL(name, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    state = int(adjtimex(ctypes.byref(_Timex())))
    return None if state < 0 else state != _TIME_ERROR


class SystemClock:
    """The machine's clock. `trust=True` skips the synchronisation check (a machine whose clock is set by
    other means, such as a hardware real-time clock)."""

    def __init__(self, trust: bool = False) -> None:
        self.trust = trust
        self._warned = False

    def now(self) -> datetime:
        return utc_now()

    def synchronised(self) -> bool:
        if self.trust or TIMESYNC_FLAG.exists():
            return True
        synced = kernel_clock_synchronised()
        if synced is None:
            return True  # nothing to ask: better on time by the machine's clock than never
        if not synced and not self._warned:
            log.warning(
                "the clock is not synchronised yet; reminders wait until it is "
                "(set [reminders] trust_clock = true on a machine with a real-time clock)"
            )
            self._warned = True
        return synced

    def sleep(self, wake: threading.Event, seconds: float) -> None:
        wake.wait(max(0.0, seconds))
