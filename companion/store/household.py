"""Who belongs to a household on the web page: read and changed by the person's own voice too
("hvem kan sende mig påmindelser?", "Anne skal ikke kunne sende mig påmindelser mere")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from companion.store.counters import note_for_hub
from companion.store.database import store_errors, writing
from companion.store.schema import accounts, audit_log, group_suggestions


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


@dataclass(frozen=True)
class GroupSuggestion:
    id: int
    group_id: str
    suggested_by: str


@store_errors("save the suggestion")
def suggest_group(
    engine: Engine, household_id: int, group_id: str, account_id: int, name: str, now: datetime
) -> None:
    """A relative's "foreslå Læsegruppen": one waiting suggestion per group (clicking twice adds none)."""
    with writing(engine) as connection:
        waiting = connection.scalar(
            select(group_suggestions.c.id).where(
                group_suggestions.c.household_id == household_id,
                group_suggestions.c.group_id == group_id,
                group_suggestions.c.mentioned_utc.is_(None),
            )
        )
        if waiting is None:
            connection.execute(
                insert(group_suggestions).values(
                    household_id=household_id,
                    group_id=group_id,
                    account_id=account_id,
                    suggested_by=name,
                    created_utc=now,
                )
            )


@store_errors("read the suggestions")
def waiting_suggestions(engine: Engine, household_id: int) -> list[GroupSuggestion]:
    query = (
        select(group_suggestions.c.id, group_suggestions.c.group_id, group_suggestions.c.suggested_by)
        .where(group_suggestions.c.household_id == household_id, group_suggestions.c.mentioned_utc.is_(None))
        .order_by(group_suggestions.c.created_utc, group_suggestions.c.id)
    )
    with engine.connect() as connection:
        return [GroupSuggestion(row.id, row.group_id, row.suggested_by) for row in connection.execute(query)]


@store_errors("note the suggestion as mentioned")
def mentioned(engine: Engine, suggestion_id: int, now: datetime) -> None:
    """Mentioned in a conversation; a relative's suggestion made on the hub is noted for the hub too
    (docs/hub-sync.md), so the relative may suggest that group again later."""
    with writing(engine) as connection:
        hub_id = connection.scalar(
            select(group_suggestions.c.hub_id).where(group_suggestions.c.id == suggestion_id)
        )
        connection.execute(
            update(group_suggestions).where(group_suggestions.c.id == suggestion_id).values(mentioned_utc=now)
        )
        if hub_id is not None:
            note_for_hub(connection, "mentioned", hub_id)
