"""The person's say over the web page, by voice: a code for a relative to pair with, who can send
reminders, and taking that away from someone ("Anne skal ikke kunne sende mig påmindelser mere")."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from rapidfuzz import fuzz
from sqlalchemy import Engine

from companion.content import Phrases
from companion.errors import StoreError
from companion.mind.catalogue import Catalogue, Group
from companion.mind.replies import Decision, Question, act
from companion.store.household import (
    GroupSuggestion,
    Member,
    members,
    mentioned,
    remove_member,
    waiting_suggestions,
)
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.web.pairing import new_code, said_aloud

log = logging.getLogger(__name__)

_SAME_NAME = 85


def _utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None)


@dataclass
class Access:
    engine: Engine
    phrases: Phrases
    household_id: int = DEVICE_HOUSEHOLD

    def pairing_code(self, decision: Decision, now: datetime) -> Decision:
        try:
            code = new_code(self.engine, self.household_id, _utc(now))
        except StoreError as error:
            log.error("no pairing code: %s", error)
            return decision.say(self.phrases.say("pairing_failed"), act("no_nudge"))
        # The act names what happened, never the code: acts are counted, and a code is a key.
        return decision.say(
            self.phrases.say("pairing_code").format(code=said_aloud(code)),
            act("pairing_code"),
            act("no_nudge"),
        )

    def who_can_remind(self, decision: Decision) -> Decision:
        names = [m.name for m in members(self.engine, self.household_id)]
        decision.acts += [act("answers_members"), act("no_nudge")]
        if not names:
            return decision.say(self.phrases.say("members_none"))
        listed = (
            names[0]
            if len(names) == 1
            else (f"{', '.join(names[:-1])} {self.phrases.say('and_word')} {names[-1]}")
        )
        return decision.say(self.phrases.say("members_list").format(names=listed))

    def remove(self, decision: Decision, text: str) -> Decision:
        """Asked about first: taking away a daughter's access is not done on a misheard word."""
        member = self._named(text)
        if member is None:
            return decision.say(self.phrases.say("member_unknown"), act("clarifies"), act("no_nudge"))
        decision.say(self.phrases.say("member_remove_confirm").format(name=member.name), act("no_nudge"))
        decision.question = Question(
            "confirm_remove_member", value=str(member.account_id), relative=member.name
        )
        return decision

    def answer(self, pending: Question, yes: bool, now: datetime) -> Decision:
        decision = Decision()
        if not yes:
            return decision.say(
                self.phrases.say("member_kept").format(name=pending.relative), act("no_nudge")
            )
        remove_member(self.engine, self.household_id, int(pending.value), _utc(now))
        return decision.say(
            self.phrases.say("member_removed").format(name=pending.relative),
            act("member_removed"),
            act("no_nudge"),
        )

    def relative_suggestion(
        self, catalogue: Catalogue, now: datetime
    ) -> tuple[GroupSuggestion, Group] | None:
        """A group a relative suggested on the web page, not yet mentioned, that still meets — marked as
        mentioned now, so it is brought up once."""
        try:
            for suggestion in waiting_suggestions(self.engine, self.household_id):
                group = catalogue.group(suggestion.group_id)
                if group is not None and group.upcoming(now) is not None:
                    mentioned(self.engine, suggestion.id, _utc(now))
                    return suggestion, group
        except StoreError as error:
            log.error("could not read the relatives' suggestions: %s", error)
        return None

    def _named(self, text: str) -> Member | None:
        words = re.findall(r"\w+", text.lower())
        scored = [
            (max((fuzz.ratio(member.name.lower(), w) for w in words), default=0.0), member)
            for member in members(self.engine, self.household_id)
        ]
        best = max(scored, key=lambda pair: pair[0], default=None)
        return best[1] if best is not None and best[0] >= _SAME_NAME else None
