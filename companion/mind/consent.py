"""Asking the person whether usage may be counted for evaluation, and hearing their answer — then or later.

The question is put at set-up, when a coordinator has asked for it on the coordinator's page and is there
to explain: at the first turn of the next conversation. The person
can always say "du må ikke tælle mere" (which deletes what was counted) or "du må gerne tælle".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from companion.content import Phrases
from companion.errors import StoreError
from companion.mind.replies import Decision, Question, act
from companion.store.database import writing
from companion.store.marks import read_mark, set_mark
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.usage.store import ASK_MARK, decide

log = logging.getLogger(__name__)


def request_question(engine: Engine, now_utc: datetime) -> None:
    """The coordinator's "ask now": the device asks at the first turn of its next conversation."""
    with writing(engine) as connection:
        set_mark(connection, ASK_MARK, now_utc)


def question_requested(engine: Engine) -> bool:
    """Whether the question waits for the next conversation."""
    with engine.connect() as connection:
        return read_mark(connection, ASK_MARK) is not None


@dataclass
class UsageConsent:
    engine: Engine
    phrases: Phrases
    household_id: int = DEVICE_HOUSEHOLD

    def maybe_ask(self, decision: Decision) -> None:
        """Put the question after this turn's reply, if a coordinator asked for it and nothing else waits."""
        if decision.question is not None:
            return
        try:
            requested = question_requested(self.engine)
        except SQLAlchemyError as error:  # a database that cannot answer must not cost the person a reply
            log.error("could not see whether to ask about counting: %s", error)
            return
        if requested:
            decision.ask_at_end(Question("consent_usage", line=self.phrases.say("consent_question")))
            decision.acts.append(act("consent_asked"))

    def answer(self, yes: bool, now: datetime) -> Decision:
        return self._decide(yes, now, "consent_yes" if yes else "consent_no")

    def withdraw(self, now: datetime) -> Decision:
        return self._decide(False, now, "consent_withdrawn")

    def grant(self, now: datetime) -> Decision:
        return self._decide(True, now, "consent_yes")

    def _decide(self, counted: bool, now: datetime, phrase: str) -> Decision:
        decision = Decision()
        try:
            decide(self.engine, self.household_id, counted, now.date())
        except StoreError as error:
            log.error("the answer about counting was not saved: %s", error)
            return decision.say(self.phrases.say("consent_failed"), act("no_nudge"))
        kind = "consent_given" if counted else "consent_refused"
        return decision.say(self.phrases.say(phrase), act(kind), act("no_nudge"))
