"""The calendar side of the policy: reminders made by voice (said back, confirmed, cancelled), what is on
today, when a group meets, what the person reports about a group, and the answers to the companion's own
questions (yes to a reminder offer, "må jeg huske …", "hvordan gik det?").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz

from companion.content import Phrases
from companion.errors import ReminderError
from companion.mind.catalogue import COPENHAGEN, Catalogue, Group
from companion.mind.memory import Conversation, FollowUp, MindState
from companion.mind.replies import ANSWERED_ELSEWHERE, Decision, Question, act
from companion.mind.steering import Caps, record_decline
from companion.mind.understand import Language, Reading
from companion.mind.when import TimeFound, TimeProblem, find_time, say_time
from companion.reminders.book import Reminder, ReminderBook
from companion.reminders.recurrence import wall_text


@dataclass(frozen=True)
class SayBack:
    """How a reminder is repeated back: the request words cut off, "mig" turned into "dig"."""

    trigger: re.Pattern[str]
    drop: frozenset[str]
    swap: Mapping[str, str]
    not_the_matter: frozenset[str]
    """Words of a request to delete ("slet påmindelsen om …") that say nothing about which reminder."""
    vague: frozenset[str]
    """A matter that is no matter ("mind mig om det"): nothing to repeat back."""
    matter_after: frozenset[str]
    """Words after which a request to delete names its reminder ("om", "med")."""

    @classmethod
    def from_toml(cls, raw: Mapping[str, Any]) -> SayBack:
        return cls(
            trigger=re.compile(str(raw.get("trigger", "^")), re.IGNORECASE),
            drop=frozenset(str(w) for w in raw.get("drop", ())),
            swap={str(k): str(v) for k, v in raw.get("swap", {}).items()},
            not_the_matter=frozenset(str(w) for w in raw.get("not_the_matter", ())),
            vague=frozenset(str(w) for w in raw.get("vague", ())),
            matter_after=frozenset(str(w) for w in raw.get("matter_after", ())),
        )

    def subject(self, text: str, start: int, end: int) -> str:
        """What to remind of, in a few words: only the first clause after the request is kept, because
        what follows ("…, hun har det skidt") is the person's private talk, not the reminder."""
        rest = f"{text[:start]} {text[end:]}".strip()
        rest = self.trigger.sub("", rest, count=1)
        first = re.split(r"[?!.,;:]", rest, maxsplit=1)[0]
        words = [self.swap.get(w.lower(), w) for w in first.split() if w.lower() not in self.drop]
        return " ".join(words[:_SUBJECT_WORDS])


_SUBJECT_WORDS = 8
_SAME_WORD = 85
"""rapidfuzz ratio from which a spoken word names a word of a reminder ("tandlæge" ~ "tandlægen")."""


def _wall(at: datetime) -> datetime:
    """An aware time as the naive Copenhagen wall time reminders are kept in."""
    return at.astimezone(COPENHAGEN).replace(tzinfo=None) if at.tzinfo else at


@dataclass
class Agenda:
    language: Language
    phrases: Phrases
    catalogue: Catalogue
    say_back: SayBack
    caps: Caps
    book: ReminderBook

    @property
    def bare_text(self) -> str:
        """What a reminder with no matter ("giv mig besked klokken tre") is saved as: the book wants text."""
        return self.phrases.say("reminder_bare_what")

    def answer(
        self, pending: Question, reading: Reading, convo: Conversation, state: MindState, now: datetime
    ) -> Decision | None:
        """The reply when what was said answers the open question; None when it is about something else
        or the question is not the agenda's."""
        if pending.kind in ANSWERED_ELSEWHERE:
            return None
        if pending.kind == "ask_time":
            alone = find_time(reading.text, now, self.language.time_words)
            if alone is None or (isinstance(alone, TimeFound) and not alone.hour_said):
                return None  # no hour in it: not an answer to "what time?" ("hvad skal jeg i dag?")
            said = f"{pending.day_words} {reading.text}".strip()
            found = find_time(said, now, self.language.time_words)
            if found is None:
                return None
            return self.reminder(
                Decision(), said, found, convo, state, now, what=pending.what, answering=True
            )
        answer = "no" if reading.has("no") else "yes" if reading.has("yes") else None
        if answer is None:
            return None
        decision = self._answered(pending, answer == "yes", convo, state, now)
        if decision.question is None and convo.later:
            decision.ask(convo.later.pop(0))
        return decision

    def _answered(
        self, pending: Question, yes: bool, convo: Conversation, state: MindState, now: datetime
    ) -> Decision:
        decision = Decision()
        say = self.phrases.say
        if pending.kind == "confirm_reminder":
            if yes:
                return decision.say(say("reminder_confirmed"), act("reminder_confirmed"))
            self.book.delete(pending.reminder_id)
            convo.later = []
            return decision.say(say("reminder_cancelled"), act("reminder_cancelled"))
        if pending.kind == "confirm_delete":
            if not yes:
                return decision.say(say("reminder_kept"), act("reminder_kept"))
            self.book.delete(pending.reminder_id)
            return decision.say(say("reminder_cancelled_asked"), act("reminder_cancelled"))
        if pending.kind == "offer_reminder":
            return self._offer_answered(decision, pending, yes, convo, state, now)
        if pending.kind == "remember_relative":
            if not yes:
                return decision.say(say("not_remembered"), act("profile_declined"))
            state.profile.relatives.append((pending.value, pending.relation))
            return decision.say(say("remembered"), act("profile_saved", "relative"))
        if pending.kind in ("remember_interest", "remember_format"):
            if not yes:
                return decision.say(say("not_remembered"), act("profile_declined"))
            if pending.kind == "remember_interest" and pending.value not in state.profile.interests:
                state.profile.interests.append(pending.value)
            if pending.kind == "remember_format":
                state.profile.preferred_format = pending.value
            return decision.say(say("remembered"), act("profile_saved", pending.kind.split("_")[1]))
        # follow_up: how did the group session go?
        state.follow_ups = [f for f in state.follow_ups if f.group_id != pending.group_id]
        if yes:
            return decision.say(say("attended_yes"), act("attended", "yes"))
        return decision.say(self._next_chance(pending.group_id, now), act("attended", "no"))

    def _next_chance(self, group_id: str, now: datetime) -> str:
        """ "Det gør ikke noget" — with the next session, when the group still meets."""
        group = self.catalogue.group(group_id)
        session = group.upcoming(now) if group is not None else None
        if session is None:
            return self.phrases.say("attended_no_ended")
        return self.phrases.say("attended_no").format(when=say_time(session, now, self.language.time_words))

    def _offer_answered(
        self,
        decision: Decision,
        pending: Question,
        yes: bool,
        convo: Conversation,
        state: MindState,
        now: datetime,
    ) -> Decision:
        say = self.phrases.say
        if not yes:
            if not pending.suggestion:
                return decision.say(say("suggestion_declined"), act("reminder_declined"))
            convo.later = []
            paused = record_decline(state, self.caps, now.date())
            decision.say(say("suggestion_declined"), act("suggestion_declined"), act("no_nudge"))
            return decision.say(say("suggestions_paused") if paused else "")
        assert pending.at is not None
        try:
            reminder = self.book.create(pending.what, _wall(pending.at), group_id=pending.group_id or None)
        except ReminderError:
            return decision.say(say("reminder_offer_refused"), act("reminder_refused"))
        convo.last_reminder_id = reminder.id
        if pending.group_id:
            state.follow_ups.append(FollowUp(pending.group_id, wall_text(reminder.starts_at)))
        when = say_time(pending.at, now, self.language.time_words)
        if pending.suggestion:
            decision.acts.append(act("suggestion_accepted"))
        return decision.say(
            say("suggestion_accepted").format(when=when),
            act("reminder_created", pending.at.strftime("%Y-%m-%dT%H:%M")),
        )

    def reminder(
        self,
        decision: Decision,
        text: str,
        found: TimeFound | TimeProblem | None,
        convo: Conversation,
        state: MindState,
        now: datetime,
        what: str | None = None,
        answering: bool = False,
    ) -> Decision:
        if what is None:
            start, end = (found.start, found.end) if found is not None else (0, 0)
            what = self.say_back.subject(text, start, end)
            if what.lower() in self.say_back.vague:
                what = ""  # "mind mig om det klokken tre": there is no matter to repeat back
        if isinstance(found, TimeFound) and not found.hour_said and not answering:
            decision.say(self.phrases.say("ask_what_time"), act("clarifies"), act("no_nudge"))
            decision.question = Question("ask_time", what=what, day_words=text[found.start : found.end])
            return decision
        if not isinstance(found, TimeFound):
            key = f"time_{found.reason}" if isinstance(found, TimeProblem) else "ask_when"
            decision.say(self.phrases.say(key), act("clarifies"), act("no_nudge"))
            decision.question = Question("ask_time", what=what)
            return decision
        try:
            reminder = self.book.create(what or self.bare_text, _wall(found.at))
        except ReminderError:
            decision.say(self.phrases.say("reminder_refused"), act("clarifies"), act("no_nudge"))
            decision.question = Question("ask_time", what=what)
            return decision
        convo.last_reminder_id = reminder.id
        when = say_time(found.at, now, self.language.time_words)
        line = "reminder_confirm" if what else "reminder_confirm_bare"
        decision.say(
            self.phrases.say(line).format(what=what, when=when),
            act("reminder_created", found.at.strftime("%Y-%m-%dT%H:%M")),
            act("no_nudge"),
        )
        decision.question = Question("confirm_reminder", reminder_id=reminder.id)
        return decision

    def cancel_reminder(self, decision: Decision, text: str, convo: Conversation, now: datetime) -> Decision:
        """ "Slet påmindelsen om tandlægen": asked about first. "Slet den igen" (or naming the one just made):
        deleted at once."""
        named, said_which = self._named_reminder(text, now)
        if named is None and said_which:
            # "Slet påmindelsen om frisøren" with no such reminder: never the one just made instead.
            return decision.say(self.phrases.say("no_such_reminder"), act("clarifies"), act("no_nudge"))
        if named is not None and named[1].id != convo.last_reminder_id:
            # An older reminder, perhaps one a relative made: asked about before it goes.
            at, reminder = named
            when = say_time(at.replace(tzinfo=COPENHAGEN), now, self.language.time_words)
            decision.say(
                self.phrases.say("confirm_delete").format(what=reminder.text, when=when),
                act("clarifies"),
                act("no_nudge"),
            )
            decision.question = Question("confirm_delete", reminder_id=reminder.id)
            return decision
        if not convo.last_reminder_id or self.book.get(convo.last_reminder_id) is None:
            return decision.say(self.phrases.say("nothing_to_cancel"), act("clarifies"), act("no_nudge"))
        self.book.delete(convo.last_reminder_id)
        convo.last_reminder_id, convo.later = 0, []
        return decision.say(
            self.phrases.say("reminder_cancelled_asked"), act("reminder_cancelled"), act("no_nudge")
        )

    def _named_reminder(self, text: str, now: datetime) -> tuple[tuple[datetime, Reminder] | None, bool]:
        """The coming reminder the person named, and whether they named one at all ("slet den igen" does
        not). The most words in common wins, then the closest spelling, then the soonest."""
        ignore = self.say_back.not_the_matter
        words = re.findall(r"\w+", text.lower())
        # The matter follows "om"/"med" ("slet påmindelsen om tandlægen"); "drop den, hun har aflyst"
        # names none, however many other words it has.
        marker = next((i for i, w in enumerate(words) if w in self.say_back.matter_after), len(words))
        spoken = [w for w in words[marker + 1 :] if len(w) >= 3 and w not in ignore]
        best: tuple[int, float, datetime, Reminder] | None = None
        for at, reminder in self.book.upcoming(_wall(now)):
            words = re.findall(r"\w+", reminder.text.lower())
            closest = [max((fuzz.ratio(s, w) for w in words), default=0.0) for s in spoken]
            matched = [score for score in closest if score >= _SAME_WORD]
            if matched and (best is None or (len(matched), sum(matched)) > (best[0], best[1])):
                best = (len(matched), sum(matched), at, reminder)
        return ((best[2], best[3]) if best is not None else None), bool(spoken)

    def today(self, decision: Decision, now: datetime) -> Decision:
        # The person's own reminders, and what the groups offer today (which is not theirs unless chosen).
        today: list[tuple[datetime, str, str]] = []
        for wall, reminder in self.book.on_day(_wall(now).date()):
            at = wall.replace(tzinfo=COPENHAGEN)
            if at >= now and reminder.group_id is None:
                bare = reminder.text == self.bare_text
                today.append((at, "today_item_bare" if bare else "today_item", reminder.text))
        for group in self.catalogue.groups:
            session = group.upcoming(now)
            if session is not None and session.date() == now.date():
                today.append((session, "today_group", group.name))
        decision.acts += [act("answers_today"), act("no_nudge")]
        if not today:
            return decision.say(self.phrases.say("today_none"))
        for at, key, what in sorted(today):
            line = self.phrases.say(key).format(when=say_time(at, now, self.language.time_words), what=what)
            decision.say(line[:1].upper() + line[1:])
        return decision

    def schedule(
        self, decision: Decision, reading: Reading, convo: Conversation, now: datetime
    ) -> Decision | None:
        if not reading.has("schedule"):
            return None
        group: Group | None = None
        if reading.named_groups:
            group = reading.named_groups[0]
        elif convo.last_group_id:
            group = self.catalogue.group(convo.last_group_id)
        if group is None:
            if reading.relatives or not reading.has("group_words"):
                return None
            if not self.catalogue.groups:  # a coordinator has not filled the catalogue yet
                return decision.say(self.phrases.say("no_groups_known"), act("clarifies"))
            examples = f" {self.phrases.say('and_word')} ".join(g.name for g in self.catalogue.groups[:2])
            return decision.say(self.phrases.say("unknown_group").format(examples=examples), act("clarifies"))
        convo.last_group_id = group.id
        session = group.upcoming(now)
        if session is None:
            return decision.say(
                self.phrases.say("group_ended").format(name=group.name), act("answers_schedule", group.id)
            )
        when = say_time(session, now, self.language.time_words)
        key = "schedule" if group.format == "physical" else "schedule_remote"
        place = group.place if group.format == "physical" else group.place[:1].lower() + group.place[1:]
        decision.say(
            self.phrases.say(key).format(name=group.name, when=when, place=place),
            act("answers_schedule", group.id),
            act("no_nudge"),
        )
        offer = Question(
            "offer_reminder",
            self.phrases.say("offer_group_reminder"),
            group_id=group.id,
            at=session,
            what=group.name,
        )
        return decision.ask(offer)

    def reported_attendance(
        self, decision: Decision, reading: Reading, state: MindState, now: datetime
    ) -> Decision:
        """ "Jeg var til læseklubben i går": counted as attended, like an answer to "Hvordan gik det?"."""
        group = reading.groups_by_name[0]
        state.follow_ups = [f for f in state.follow_ups if f.group_id != group.id]
        decision.acts.append(act("no_nudge"))
        if reading.has("attended_no"):
            return decision.say(self._next_chance(group.id, now), act("attended", "no"))
        return decision.say(self.phrases.say("attended_yes"), act("attended", "yes"))
