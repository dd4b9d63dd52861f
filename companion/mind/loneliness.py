"""The Three-Item Loneliness Scale by voice: asked, with the person's leave, once counting is allowed and
then once a calendar quarter; only the sum of the three answers (3–9) is kept, as a usage count of that day.

The questions are the Danish national health survey's (Sundhedsstyrelsen's "Hvordan har du det?"), in
dialogs/<lang>/phrases.toml. The answers so far live in the open question only — a conversation that ends
half-way keeps nothing, and a "du må ikke tælle mere" deletes the sums with every other count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from companion.content import Phrases
from companion.errors import StoreError
from companion.mind.replies import Decision, Question, act
from companion.mind.understand import Reading
from companion.store.database import writing
from companion.store.marks import read_mark, set_mark
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.usage.store import LONELINESS_MARK, add, consent_of, iso_week, quarter_of

log = logging.getLogger(__name__)

ITEMS = 3
ANSWERS = {"scale_rarely": "1", "scale_sometimes": "2", "scale_often": "3"}
"""The intent heard → the item's score (hardly ever 1, some of the time 2, often 3)."""
SAID_ALONG = frozenset(
    {"yes", "no", "lonely", "missing", "grief", "bored", "scale_not_often", "scale_not_always", *ANSWERS}
)
"""What an answer may also carry ("Ja, tit. Jeg er så ensom"); anything else is talk of something else."""


def answer_of(reading: Reading) -> str | None:
    """The score of one answer; None when no answer — or more than one — was heard."""
    if reading.has("scale_not_always"):
        return None  # "ikke altid" lies between two answers: asked again rather than guessed
    if reading.has("scale_not_often"):
        return ANSWERS["scale_rarely"]
    heard = [score for intent, score in ANSWERS.items() if reading.has(intent)]
    return heard[0] if len(heard) == 1 else None


@dataclass
class LonelinessScale:
    engine: Engine
    phrases: Phrases
    household_id: int = DEVICE_HOUSEHOLD

    def due(self, now: datetime) -> bool:
        """Counting is allowed, and the questions were not yet offered this quarter (the quarters of the
        reports: an ISO week's, by its Thursday)."""
        try:
            consent = consent_of(self.engine, self.household_id)
            with self.engine.connect() as connection:
                last = read_mark(connection, LONELINESS_MARK)
        except (StoreError, SQLAlchemyError) as error:  # not being asked costs nothing; a lost reply would
            log.error("could not see whether the loneliness questions are due: %s", error)
            return False
        if consent is None or not consent.counted:
            return False
        if last is None:
            return True
        offered = last.replace(tzinfo=UTC).astimezone(now.tzinfo).date()
        return quarter_of(iso_week(offered)) != quarter_of(iso_week(now.date()))

    def maybe_ask(self, decision: Decision, now: datetime) -> None:
        """Ask leave to put the questions after this turn's reply, if they are due and nothing else waits."""
        if decision.question is not None or not self.due(now):
            return
        try:
            # Marked when offered, not when answered: a "nej" or an unfinished try waits for the next quarter.
            with writing(self.engine) as connection:
                set_mark(connection, LONELINESS_MARK, _utc_naive(now))
        except SQLAlchemyError as error:
            log.error("could not note that the loneliness questions were offered: %s", error)
            return
        decision.ask_at_end(Question("loneliness_permission", line=self.phrases.say("loneliness_ask")))
        decision.acts.append(act("loneliness_offered"))

    def permission(self, yes: bool) -> Decision:
        decision = Decision()
        if not yes:
            return decision.say(self.phrases.say("loneliness_declined"), act("loneliness_declined"))
        decision.say(self.phrases.say("loneliness_start"), act("loneliness_started"), act("no_nudge"))
        return self._ask_item(decision, Question("loneliness_item"), options=True)

    def answer(self, pending: Question, reading: Reading, now: datetime) -> Decision | None:
        """The next question, or the thanks after the third; None when the person spoke of something else
        (the questions are dropped, and what they said is answered as usual). A "nej" or "det vil jeg helst
        ikke svare på" drops them kindly; an answer not heard is asked for once more."""
        decision = Decision()
        if reading.intents - SAID_ALONG - {"scale_refuse"}:
            return None
        if reading.has("scale_refuse") or reading.intents == {"no"}:
            return decision.say(self.phrases.say("loneliness_dropped"), act("loneliness_dropped"))
        score = answer_of(reading)
        if score is None:
            if pending.misses:
                return decision.say(self.phrases.say("loneliness_dropped"), act("loneliness_dropped"))
            decision.say(self.phrases.say("loneliness_again"), act("clarifies"), act("no_nudge"))
            return self._ask_item(decision, replace(pending, misses=1), options=True)
        answers = pending.value + score
        if len(answers) < ITEMS:
            decision.acts.append(act("no_nudge"))
            return self._ask_item(decision, replace(pending, value=answers, misses=0), options=False)
        total = sum(int(a) for a in answers)
        try:
            add(self.engine, self.household_id, now.date(), {("loneliness_score", str(total)): 1})
        except StoreError as error:
            log.error("the loneliness score was not saved: %s", error)
            return decision.say(self.phrases.say("loneliness_failed"), act("loneliness_answered"))
        thanks = self.phrases.say("loneliness_thanks")
        return decision.say(thanks, act("loneliness_answered"), act("no_nudge"))

    def _ask_item(self, decision: Decision, question: Question, options: bool) -> Decision:
        item = self.phrases.say(f"loneliness_item_{len(question.value) + 1}")
        line = f"{item} {self.phrases.say('loneliness_options')}" if options else item
        return decision.ask(replace(question, line=line))


def _utc_naive(now: datetime) -> datetime:
    """`marks` keeps naive UTC instants; the mind's clock is aware (Copenhagen)."""
    return now.astimezone(UTC).replace(tzinfo=None)
