"""The device's health as a coordinator sees it: when it was last running, and whether its microphone and
models work. Written by `companion run` every few minutes; read by the coordinator's page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from companion.store.database import store_errors, writing
from companion.store.schema import device_health

THIS_DEVICE = "device"
BEAT_EVERY = timedelta(minutes=5)
"""Often enough for "last seen", rarely enough not to wear the SD card."""


@dataclass(frozen=True)
class Health:
    last_seen_utc: datetime
    microphone_ok: bool
    models_ok: bool
    problem: str


@store_errors("record the device's health")
def record(engine: Engine, health: Health, device: str = THIS_DEVICE) -> None:
    values = {
        "last_seen_utc": health.last_seen_utc,
        "microphone_ok": health.microphone_ok,
        "models_ok": health.models_ok,
        "problem": health.problem[:300],
    }
    with writing(engine) as connection:
        changed = connection.execute(
            update(device_health).where(device_health.c.device == device).values(**values)
        ).rowcount
        if not changed:
            connection.execute(insert(device_health).values(device=device, **values))


@store_errors("read the device's health")
def latest(engine: Engine, device: str = THIS_DEVICE) -> Health | None:
    with engine.connect() as connection:
        row = connection.execute(select(device_health).where(device_health.c.device == device)).first()
    return Health(row.last_seen_utc, row.microphone_ok, row.models_ok, row.problem) if row else None


class Heartbeat:
    """Called every scheduler round; writes only when something changed or BEAT_EVERY has passed."""

    def __init__(self, engine: Engine, microphone_ok: Callable[[], bool], problem: Callable[[], str]) -> None:
        self.engine = engine
        self.microphone_ok = microphone_ok
        self.problem = problem
        self._written: Health | None = None

    def __call__(self, now: datetime) -> None:
        health = Health(now, self.microphone_ok(), True, self.problem())
        if self._nothing_new(health):
            return
        record(self.engine, health)
        self._written = health

    def _nothing_new(self, health: Health) -> bool:
        """The same state as last written, and written recently."""
        last = self._written
        if last is None or (last.microphone_ok, last.problem) != (health.microphone_ok, health.problem):
            return False
        return health.last_seen_utc - last.last_seen_utc < BEAT_EVERY
