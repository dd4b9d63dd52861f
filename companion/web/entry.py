"""Getting in, for the pages and the API alike: signing in, and pairing with a spoken code — each slowed
down by the throttle, and a pairing saved whole (code used up and account made) or not at all."""

from __future__ import annotations

from dataclasses import dataclass

from companion.store.database import writing
from companion.web.accounts import Account, AccountError, authenticate, create_account
from companion.web.app import Web
from companion.web.pairing import redeem


@dataclass(frozen=True)
class Refusal:
    """Why not: `reason` (locked, wrong, email_taken, email, name, password) and the field it is about."""

    reason: str
    field: str = ""


def sign_in(web: Web, email: str, password: str, address: str) -> Account | Refusal:
    keys = (f"login:{email.strip().lower()}", f"login-from:{address}")
    if any(web.throttle.locked_for(key, web.now()) for key in keys):
        return Refusal("locked")
    account = authenticate(web.database.engine, email, password)
    for key in keys:
        if account is None:
            web.throttle.failed(key, web.now())
        else:
            web.throttle.succeeded(key)
    return account if account is not None else Refusal("wrong")


def pair(
    web: Web, code: str, name: str, email: str, password: str, language: str, address: str
) -> Account | Refusal:
    key = f"pair-from:{address}"
    now = web.now()
    if web.throttle.locked_for(key, now):
        return Refusal("locked", "code")
    account: Account | None = None
    try:
        with writing(web.database.engine) as connection:
            household = redeem(connection, code, now)
            if household is not None:
                account = create_account(
                    connection,
                    household_id=household,
                    role="relative",
                    name=name,
                    email=email,
                    password=password,
                    language=language,
                    now=now,
                )
    except AccountError as error:  # the code is not used up: the whole pairing was rolled back
        return Refusal(error.reason, "email" if error.reason == "email_taken" else error.reason)
    if account is None:
        web.throttle.failed(key, now)  # the wrong code counts against every valid one too (pairing.py)
        return Refusal("wrong", "code")
    web.throttle.succeeded(key)
    return account
