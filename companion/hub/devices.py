"""Households and device credentials on the hub: made by a coordinator, shown once, revocable.

A credential is 32 random bytes; the hub keeps only its SHA-256, so a copy of the hub's database lets no
device in. A revoked device is refused at its next request; its own copy of the reminders keeps working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from companion.errors import CompanionError
from companion.store.database import store_errors, writing
from companion.store.schema import devices, households

CREDENTIAL_PREFIX = "cdev_"
"""Makes a credential recognisable in a file or a log (and so easy to find and revoke if it leaks)."""


@dataclass(frozen=True)
class Device:
    id: int
    household_id: int
    name: str
    created_utc: datetime
    revoked_utc: datetime | None
    last_sync_utc: datetime | None


def _hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


@store_errors("add the household")
def add_household(engine: Engine, name: str, now: datetime) -> int:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise CompanionError(
            "A household needs a name of 1 to 100 characters.", 'E.g. "Inger Hansen, Vesterbro".'
        )
    with writing(engine) as connection:
        return int(
            connection.scalar(
                insert(households).values(name=name, created_utc=now).returning(households.c.id)
            )
        )


def list_households(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        return [
            (row.id, row.name) for row in connection.execute(select(households).order_by(households.c.id))
        ]


@store_errors("add the device")
def add_device(engine: Engine, household_id: int, name: str, now: datetime) -> tuple[Device, str]:
    """A new device of the household and its credential — the only time the credential exists in clear."""
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    with writing(engine) as connection:
        if connection.scalar(select(households.c.id).where(households.c.id == household_id)) is None:
            raise CompanionError(
                f"There is no household {household_id} on the hub.",
                "See them with: companion households list",
            )
        # One device speaks a household's reminders: two would say each one twice, and their records of it
        # (said, heard) would contradict each other on the relatives' page.
        other = connection.scalar(
            select(devices.c.id).where(
                devices.c.household_id == household_id, devices.c.revoked_utc.is_(None)
            )
        )
        if other is not None:
            raise CompanionError(
                f"Household {household_id} has a device already (device {other}).",
                f"A replacement? Revoke the old one first: companion devices revoke {other}",
            )
        row = connection.execute(
            insert(devices)
            .values(household_id=household_id, name=name, token_hash=_hash(credential), created_utc=now)
            .returning(*devices.c)
        ).one()
    return _device(row), credential


@store_errors("revoke the device")
def revoke_device(engine: Engine, device_id: int, now: datetime) -> bool:
    """True if the device was revoked now (False: no such device, or revoked already)."""
    with writing(engine) as connection:
        changed = connection.execute(
            update(devices)
            .where(devices.c.id == device_id, devices.c.revoked_utc.is_(None))
            .values(revoked_utc=now)
        ).rowcount
    return bool(changed)


def list_devices(engine: Engine) -> list[Device]:
    with engine.connect() as connection:
        return [_device(row) for row in connection.execute(select(devices).order_by(devices.c.id))]


def device_of(engine: Engine, credential: str) -> Device | None:
    """The device this credential belongs to, if it is known and not revoked."""
    if not credential.startswith(CREDENTIAL_PREFIX) or len(credential) > 100:
        return None
    digest = _hash(credential)
    with engine.connect() as connection:
        row = connection.execute(select(devices).where(devices.c.token_hash == digest)).first()
    # The lookup is by hash, so timing says nothing of the credential; compared once more all the same.
    if row is None or row.revoked_utc is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return _device(row)


def _device(row: object) -> Device:
    mapping = row._mapping  # type: ignore[attr-defined]
    return Device(**{field: mapping[field] for field in Device.__dataclass_fields__})
