"""Pairing a relative with a household: the device says a one-time code aloud, the relative types it.

A code has 8 digits, lasts 10 minutes, is used once, and dies after 5 wrong tries (every wrong code typed
while it is valid counts against it: a guesser does not know which code to aim at). Only its SHA-256 is
kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update

from companion.store.database import store_errors, writing
from companion.store.schema import pairing_codes

CODE_DIGITS = 8
VALID_FOR = timedelta(minutes=10)
MAX_FAILURES = 5


def token_hash(token: str) -> str:
    """SHA-256 of a secret (a code, a session token): what the database keeps instead of the secret."""
    return hashlib.sha256(token.encode()).hexdigest()


@store_errors("make a pairing code")
def new_code(engine: Engine, household_id: int, now: datetime) -> str:
    """A fresh code for the household; any code it had before stops working."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with writing(engine) as connection:
        connection.execute(
            update(pairing_codes)
            .where(pairing_codes.c.household_id == household_id, pairing_codes.c.used_utc.is_(None))
            .values(expires_utc=now)
        )
        connection.execute(
            insert(pairing_codes).values(
                household_id=household_id,
                code_hash=token_hash(code),
                created_utc=now,
                expires_utc=now + VALID_FOR,
                failures=0,
            )
        )
    return code


def spoken_form(code: str) -> str:
    """ "1234 5678": in two halves, the way a code is written down."""
    return f"{code[:4]} {code[4:]}"


def said_aloud(code: str) -> str:
    """ "4 3 7 4, 2 8 4 2": one digit at a time, so the voice does not read "forty-three million"."""
    return f"{' '.join(code[:4])}, {' '.join(code[4:])}"


def redeem(connection: Connection, typed: str, now: datetime) -> int | None:
    """The household of a valid code, which is used up (inside the caller's transaction); None if wrong."""
    code = "".join(ch for ch in typed if ch.isdigit())
    active = connection.execute(
        select(pairing_codes.c.id, pairing_codes.c.household_id, pairing_codes.c.code_hash).where(
            pairing_codes.c.used_utc.is_(None),
            pairing_codes.c.expires_utc > now,
            pairing_codes.c.failures < MAX_FAILURES,
        )
    ).all()
    for row in active:
        if len(code) == CODE_DIGITS and hmac.compare_digest(row.code_hash, token_hash(code)):
            connection.execute(update(pairing_codes).where(pairing_codes.c.id == row.id).values(used_utc=now))
            return int(row.household_id)
    if active:
        connection.execute(
            update(pairing_codes)
            .where(pairing_codes.c.id.in_([row.id for row in active]))
            .values(failures=pairing_codes.c.failures + 1)
        )
    return None
