"""One harness for every stage: feed events in, get the events out (pipecat's run_test)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable, Sequence

from companion.events import Event
from companion.stages import Stage, run_stages


def run_stage_test(stages: Stage | Sequence[Stage], events: Iterable[Event]) -> list[Event]:
    chain = [stages] if not isinstance(stages, Sequence) else list(stages)
    return list(run_stages(chain, events))


def of_type(events: Iterable[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def datagrams(server: socket.socket, seconds: float) -> list[str]:
    """Every datagram a bound unix socket (systemd's notify socket, in tests) receives within `seconds`."""
    messages: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        server.settimeout(left)
        with contextlib.suppress(TimeoutError):
            messages.append(server.recv(4096).decode())
    return messages
