"""The person's say over the web page by voice: a pairing code said digit by digit, who can send reminders,
and taking that away — after a yes."""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import select

from companion.store.database import writing
from companion.store.schema import DEVICE_HOUSEHOLD, accounts, audit_log
from companion.web.accounts import create_account
from companion.web.pairing import redeem

from minds import MONDAY_MORNING, make_mind, say

NOW = MONDAY_MORNING.astimezone(UTC).replace(tzinfo=None)


def add_relative(mind: object, name: str) -> None:
    engine = mind.rules.access.engine  # type: ignore[attr-defined]
    with writing(engine) as connection:
        create_account(
            connection,
            household_id=DEVICE_HOUSEHOLD,
            role="relative",
            name=name,
            email=f"{name.lower()}@example.dk",
            password="korrekt hest batteri",
            language="da",
            now=NOW,
        )


def test_asked_for_a_code_it_says_one_digit_by_digit_and_the_web_page_takes_it() -> None:
    mind = make_mind()
    reply, outcomes = say(mind, "Giv mig en kode til hjemmesiden.")
    assert "pairing_code" in outcomes and not any(re.search(r"\d{4}", o) for o in outcomes)
    spoken = re.search(r"er ((?:\d ){3}\d, (?:\d ){3}\d)\.", reply)
    assert spoken, reply
    code = re.sub(r"\D", "", spoken.group(1))
    with writing(mind.rules.access.engine) as connection:
        assert redeem(connection, code, NOW) == DEVICE_HOUSEHOLD


def test_who_can_send_reminders_and_taking_it_away_after_a_yes() -> None:
    mind = make_mind()
    reply, _ = say(mind, "Hvem kan sende mig påmindelser?")
    assert reply == "Der er ingen, der kan sende dig påmindelser endnu."
    add_relative(mind, "Anne")
    add_relative(mind, "Bent")
    reply, outcomes = say(mind, "Hvem kan sende mig påmindelser?")
    assert reply == "Anne og Bent kan sende dig påmindelser." and "answers_members" in outcomes
    reply, _ = say(mind, "Bent skal ikke længere kunne sende mig påmindelser.")
    assert reply == "Skal Bent ikke længere kunne sende dig påmindelser?"
    reply, outcomes = say(mind, "Ja.")
    assert "member_removed" in outcomes and "Bent" in reply
    engine = mind.rules.access.engine
    with engine.connect() as connection:
        assert [row.name for row in connection.execute(select(accounts))] == ["Anne"]
        assert [row.action for row in connection.execute(select(audit_log))] == ["access_removed_by_voice"]


def test_a_no_keeps_the_access_and_an_unknown_name_is_asked_about() -> None:
    mind = make_mind()
    add_relative(mind, "Anne")
    say(mind, "Anne skal ikke længere kunne sende mig påmindelser.")
    reply, _ = say(mind, "Nej, alligevel ikke.")
    assert reply == "Så beholder Anne sin adgang."
    _, outcomes = say(mind, "Fjern Gertrud fra hjemmesiden.")
    assert "clarifies" in outcomes
