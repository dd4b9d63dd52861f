"""Who belongs to a household on the web page: read and changed by the person's own voice too
("hvem kan sende mig påmindelser?", "Anne skal ikke kunne sende mig påmindelser mere")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from companion.store.database import store_errors, writing
from companion.store.schema import accounts, audit_log


@dataclass(frozen=True)
class Member:
    account_id: int
    name: str


@store_errors("read who can send reminders")
def members(engine: Engine, household_id: int) -> list[Member]:
    query = (
        select(accounts.c.id, accounts.c.name)
        .where(accounts.c.household_id == household_id, accounts.c.role == "relative")
        .order_by(accounts.c.name, accounts.c.id)
    )
    with engine.connect() as connection:
        return [Member(row.id, row.name) for row in connection.execute(query)]


@store_errors("remove a relative's access")
def remove_member(engine: Engine, household_id: int, account_id: int, now: datetime) -> bool:
    """The account goes (its sessions with it); the reminders it made stay, and the audit log says who."""
    with writing(engine) as connection:
        gone = connection.execute(
            delete(accounts).where(accounts.c.id == account_id, accounts.c.household_id == household_id)
        ).rowcount
        if gone:
            connection.execute(
                insert(audit_log).values(
                    at_utc=now,
                    account_id=account_id,
                    household_id=household_id,
                    action="access_removed_by_voice",
                )
            )
    return bool(gone)
