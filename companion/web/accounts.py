"""Web accounts, their sessions, and the throttle that slows down guessing.

Passwords are hashed with argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane) rather
than argon2-cffi's default 64 MiB: the web process shares a Pi with the models and stays under 80 MB.
A hash made with other parameters still verifies, and is remade at the next sign-in.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so a copy of the
database lets no one in. Each session has its own CSRF token, which every form posts back.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from companion.errors import CompanionError
from companion.store.database import store_errors, writing
from companion.store.schema import accounts, throttles, web_sessions
from companion.web.pairing import token_hash

PASSWORD_MIN = 10
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_UNKNOWN = _HASHER.hash("not anybody's password")
"""Checked against when the e-mail is unknown, so an answer takes as long either way."""


class AccountError(CompanionError):
    """An account could not be made; `reason` (email, email_taken, name, password) names the field."""

    code = "web.account"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Account:
    id: int
    household_id: int | None
    role: str
    name: str
    email: str
    language: str

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(row.id, row.household_id, row.role, row.name, row.email, row.language)


def create_account(
    connection: Connection,
    *,
    household_id: int | None,
    role: str,
    name: str,
    email: str,
    password: str,
    language: str,
    now: datetime,
) -> Account:
    """Inside the caller's transaction, so pairing and the account are saved together or not at all."""
    name, email = " ".join(name.split()), email.strip().lower()
    if not 1 <= len(name) <= 100:
        raise AccountError("A name of 1 to 100 characters is needed.", "name")
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccountError("That is not an e-mail address.", "email")
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"The password needs at least {PASSWORD_MIN} characters.", "password")
    values = {
        "household_id": household_id,
        "role": role,
        "name": name,
        "email": email,
        "password_hash": _HASHER.hash(password),
        "language": language,
        "created_utc": now,
    }
    try:
        with connection.begin_nested():
            new_id = connection.execute(insert(accounts).values(**values)).inserted_primary_key
    except IntegrityError as error:
        raise AccountError("There is already an account with that e-mail address.", "email_taken") from error
    assert new_id is not None
    return Account(int(new_id[0]), household_id, role, name, email, language)


@store_errors("check the password")
def authenticate(engine: Engine, email: str, password: str) -> Account | None:
    with engine.connect() as connection:
        row = connection.execute(select(accounts).where(accounts.c.email == email.strip().lower())).first()
    try:
        _HASHER.verify(row.password_hash if row is not None else _UNKNOWN, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        with writing(engine) as connection:
            connection.execute(
                update(accounts).where(accounts.c.id == row.id).values(password_hash=_HASHER.hash(password))
            )
    return Account.from_row(row)


class Sessions:
    def __init__(self, engine: Engine, lifetime: timedelta) -> None:
        self.engine = engine
        self.lifetime = lifetime

    @store_errors("start a session")
    def start(self, account_id: int, now: datetime) -> tuple[str, str]:
        """A new session: (the cookie's token, its CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with writing(self.engine) as connection:
            connection.execute(delete(web_sessions).where(web_sessions.c.expires_utc < now))
            connection.execute(
                insert(web_sessions).values(
                    token_hash=token_hash(token),
                    account_id=account_id,
                    csrf=csrf,
                    created_utc=now,
                    expires_utc=now + self.lifetime,
                )
            )
        return token, csrf

    @store_errors("read the session")
    def find(self, token: str, now: datetime) -> tuple[Account, str] | None:
        """The signed-in account and the session's CSRF token; None when signed out or expired."""
        query = (
            select(accounts, web_sessions.c.csrf)
            .join(web_sessions, web_sessions.c.account_id == accounts.c.id)
            .where(web_sessions.c.token_hash == token_hash(token), web_sessions.c.expires_utc > now)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return (Account.from_row(row), row.csrf) if row is not None else None

    @store_errors("end the session")
    def end(self, token: str) -> None:
        with writing(self.engine) as connection:
            connection.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash(token)))


class Throttle:
    """The `free`-th failure for a key locks it for a minute, each further one for twice as long (at most
    an hour); a success clears it."""

    def __init__(self, engine: Engine, free: int = 5) -> None:
        self.engine = engine
        self.free = free

    @store_errors("read the throttle")
    def locked_for(self, key: str, now: datetime) -> timedelta:
        with self.engine.connect() as connection:
            until = connection.scalar(select(throttles.c.locked_until_utc).where(throttles.c.key == key))
        return max(until - now, timedelta(0)) if until is not None else timedelta(0)

    @store_errors("count a failed attempt")
    def failed(self, key: str, now: datetime) -> None:
        with writing(self.engine) as connection:
            failures = connection.scalar(select(throttles.c.failures).where(throttles.c.key == key))
            count = (failures or 0) + 1
            over = count - self.free
            until = now + min(timedelta(minutes=2**over), timedelta(hours=1)) if over >= 0 else None
            values = {"failures": count, "locked_until_utc": until, "updated_utc": now}
            if failures is None:
                connection.execute(insert(throttles).values(key=key, **values))
            else:
                connection.execute(update(throttles).where(throttles.c.key == key).values(**values))

    @store_errors("clear the throttle")
    def succeeded(self, key: str) -> None:
        with writing(self.engine) as connection:
            connection.execute(delete(throttles).where(throttles.c.key == key))
