"""The policy's rules, in the order they win: crisis first, always; then the person's own requests about
the conversation (stop, repeat, the voice, "leave me alone"); answers to the companion's own questions;
reminders and the schedule; honesty about being a machine, advice it must not give, fear for services;
then one gentle step toward people; and only then small talk through the language model.

Nothing here depends on a language model: every decision that matters is made from the Reading.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from companion.content import Phrases
from companion.mind.access import Access
from companion.mind.agenda import Agenda
from companion.mind.catalogue import Catalogue, Group, Relative
from companion.mind.consent import UsageConsent
from companion.mind.lexicon import GroupIndex
from companion.mind.loneliness import LonelinessScale
from companion.mind.memory import Conversation, MindState, Profile, Suggestion
from companion.mind.replies import Decision, Question, act
from companion.mind.steering import Caps, Step, choose_step, cue_of, may_suggest, record_decline
from companion.mind.understand import Language, Reading
from companion.mind.when import say_time
from companion.settings import CrisisSettings

_LEADS = {
    "lonely": "lead_lonely",
    "missing": "lead_missing",
    "grief": "lead_grief",
    "bored": "lead_bored",
    "interest": "lead_interest",
    "skill": "lead_skill",
    "asked": "lead_asked",
}
_VOICE = {
    "slower": "speech_slower",
    "faster": "speech_faster",
    "louder": "volume_up",
    "quieter": "volume_down",
}
_NO_QUESTION_AFTER = {"helpline", "leave_alone", "stop", "repeat", *_VOICE.values()}
"""A turn that gave a helpline, asked for peace or only set the voice ends without a question of the
companion's own."""
_RELATIVE_REMINDER_DELAY = timedelta(hours=1)
_FOLLOW_UP_FOR = timedelta(days=14)


@dataclass
class Rules:
    language: Language
    phrases: Phrases
    catalogue: Catalogue
    index: GroupIndex
    agenda: Agenda
    crisis: CrisisSettings
    caps: Caps
    access: Access
    consent: UsageConsent
    loneliness: LonelinessScale

    def use_catalogue(self, catalogue: Catalogue) -> None:
        """The groups changed in the database (the hub's catalogue, a coordinator's page): from the next
        reading on. Each part is replaced whole, so a turn under way sees the old groups or the new ones."""
        index = GroupIndex(self.language.lexicon, catalogue)
        self.agenda.catalogue = catalogue
        self.index = index
        self.catalogue = catalogue

    # --- the order of the rules ---------------------------------------------------------------------------

    def decide(self, reading: Reading, convo: Conversation, state: MindState, now: datetime) -> Decision:
        decision = self._decide(reading, convo, state, now)
        if (
            convo.turns == 0
            and not convo.in_crisis
            and reading.meaningful
            and not decision.ends_conversation
            and not any(done.kind in _NO_QUESTION_AFTER for done in decision.acts)
        ):
            self.consent.maybe_ask(decision)  # set-up: the coordinator asked for the question
            self.loneliness.maybe_ask(decision, now)  # with consent, every three months
        return decision

    def _decide(self, reading: Reading, convo: Conversation, state: MindState, now: datetime) -> Decision:
        decision = Decision()
        if reading.has("emergency"):
            return self._crisis(decision, convo, "emergency")
        if reading.has("crisis"):
            return self._crisis(decision, convo, "crisis")
        if not reading.meaningful:
            decision.question = convo.pending  # "øh" is no answer: the open question still waits
            return decision.say(self.phrases.say("not_understood"), act("clarifies"))
        if reading.has("stop") and not reading.has("leave_alone"):
            return self._stop(reading, convo, state, now)
        if convo.in_crisis and not reading.has(*_VOICE, "repeat", "leave_alone"):
            # After words of ending one's life, no small talk from a model: the number again, and kindness.
            return self._crisis(decision, convo, "crisis_again")
        if reading.has(*_VOICE, "repeat"):
            return self._voice_and_repeat(decision, reading, convo, state)
        if reading.has("leave_alone") and not reading.has("wants_suggestion"):
            return self._leave_alone(decision, convo, state, now)
        pending, convo.pending = convo.pending, None
        if pending is not None and pending.kind == "confirm_remove_member" and reading.has("yes", "no"):
            return self.access.answer(pending, not reading.has("no"), now)
        if pending is not None and pending.kind == "consent_usage" and reading.has("yes", "no"):
            return self.consent.answer(not reading.has("no"), now)
        if pending is not None and pending.kind == "loneliness_permission" and reading.has("yes", "no"):
            return self.loneliness.permission(not reading.has("no"))
        if (
            pending is not None
            and pending.kind == "loneliness_item"
            and (answered := self.loneliness.answer(pending, reading, now)) is not None
        ):
            return answered
        if reading.has("count_stop"):
            return self.consent.withdraw(now)
        if reading.has("count_ok"):
            return self.consent.grant(now)
        if pending is not None and (answered := self.agenda.answer(pending, reading, convo, state, now)):
            return answered
        if reading.has("pairing_code"):
            return self.access.pairing_code(decision, now)
        if reading.has("remove_member"):
            return self.access.remove(decision, reading.text)
        if reading.has("who_can_remind"):
            return self.access.who_can_remind(decision)
        if reading.has("cancel_reminder") and (not reading.has("reminder") or convo.last_reminder_id):
            return self.agenda.cancel_reminder(decision, reading.text, convo, now)
        if reading.has("forget"):
            state.profile = Profile()
            return decision.say(self.phrases.say("forgotten"), act("profile_forgotten"))
        if reading.has("reminder"):
            return self.agenda.reminder(decision, reading.text, reading.time, convo, state, now)
        if reading.has("today"):
            return self.agenda.today(decision, now)
        if (
            reading.has("attended_yes", "attended_no")
            and reading.groups_by_name
            and not reading.has("schedule")
        ):
            return self.agenda.reported_attendance(decision, reading, state, now)
        if schedule := self.agenda.schedule(decision, reading, convo, now):
            return schedule
        return self._honest_and_steering(decision, reading, convo, state, now)

    def _honest_and_steering(
        self, decision: Decision, reading: Reading, convo: Conversation, state: MindState, now: datetime
    ) -> Decision:
        if reading.has("human_question"):
            decision.say(self.phrases.say("discloses_machine"), act("discloses_machine"))
        elif reading.has("treats_as_person"):
            decision.say(self.phrases.say("treated_as_person"), act("discloses_machine"))
        if reading.asks_professional:
            decision.say(self.phrases.say("defers_to_professional"), act("defers_to_professional"))
        if reading.fears_for_services:
            decision.say(self.phrases.say("reassures_services"), act("reassures_services"))
        if reading.preferred_format:
            convo.preferred_format = reading.preferred_format
        if reading.has("wants_suggestion"):
            state.paused_until_asked = False
        if not (reading.asks_professional or reading.fears_for_services):
            self._steer(decision, reading, convo, state, now)
        self._offer_to_remember_relative(decision, reading, convo, state)
        if not decision.lines:
            self._follow_up_or_chat(decision, reading, convo, state, now)
        if not any(a.kind == "human_next_step" for a in decision.acts):
            decision.acts.append(act("no_nudge"))
        return decision

    # --- crisis, voice, stop, leave alone -------------------------------------------------------------------

    def _crisis(self, decision: Decision, convo: Conversation, key: str) -> Decision:
        # After words of despair, no suggestions and no model for the rest of this conversation.
        convo.in_crisis = convo.in_crisis or key != "emergency"
        convo.pending, convo.later = None, []
        numbers = {
            "helpline_name": self.crisis.helpline_name,
            "helpline_number": self.crisis.helpline_number,
            "helpline_hours": self.crisis.helpline_hours,
            "emergency_number": self.crisis.emergency_number,
        }
        decision.say(self.phrases.say(key).format(**numbers), act("helpline"), act("no_nudge"))
        # After a fall the person needs the number and nothing else; after despair, to hear it stays.
        return decision.say(self.phrases.say("crisis_stay") if key == "crisis" else "")

    def _stop(self, reading: Reading, convo: Conversation, state: MindState, now: datetime) -> Decision:
        """ "Ja tak, farvel": the open question is answered first, then the conversation ends."""
        pending, convo.pending = convo.pending, None
        answered = self.agenda.answer(pending, reading, convo, state, now) if pending else None
        decision = answered or Decision()
        decision.question, decision.later, decision.ends_conversation = None, [], True
        return decision.say(self.phrases.say("stop"), act("stop"), act("no_nudge"))

    def _voice_and_repeat(
        self, decision: Decision, reading: Reading, convo: Conversation, state: MindState
    ) -> Decision:
        for intent, key in _VOICE.items():
            if reading.has(intent):
                field_name = "length_scale_step" if intent in ("slower", "faster") else "volume_step"
                change = 1 if intent in ("slower", "louder") else -1
                value = getattr(state, field_name) + change
                if abs(value) <= 3:
                    setattr(state, field_name, value)
                    decision.say(self.phrases.say(key), act(key))
                else:
                    decision.say(self.phrases.say("voice_at_limit"), act(key, limit="yes"))
        if reading.has("repeat") or (reading.has("louder") and convo.last_reply):
            if convo.last_reply:
                decision.say(convo.last_reply, act("repeat"))
            elif not decision.lines:
                decision.say(self.phrases.say("nothing_to_repeat"), act("repeat"))
        decision.question = convo.pending  # "tal højere" is no answer: the open question still waits
        decision.acts.append(act("no_nudge"))
        return decision

    def _leave_alone(
        self, decision: Decision, convo: Conversation, state: MindState, now: datetime
    ) -> Decision:
        if convo.pending is not None and convo.pending.suggestion:
            record_decline(state, self.caps, now.date())
        convo.pending, convo.later = None, []
        state.paused_until_asked = True
        return decision.say(self.phrases.say("leave_alone"), act("leave_alone"), act("no_nudge"))

    # --- one step toward people -----------------------------------------------------------------------

    def _steer(
        self, decision: Decision, reading: Reading, convo: Conversation, state: MindState, now: datetime
    ) -> None:
        asked = reading.has("wants_suggestion")
        allowed = asked or (
            not convo.in_crisis and may_suggest(state, convo.suggestions, self.caps, now.date())
        )
        cue = cue_of(reading)
        relatives = [*self.catalogue.relatives, *(Relative(n, r) for n, r in state.profile.relatives)]
        preferred = convo.preferred_format or state.profile.preferred_format
        chosen = frozenset(f.group_id for f in state.follow_ups)
        step = choose_step(reading, self.index, relatives, state.profile.interests, preferred, now, chosen)
        if step is None or not allowed:
            if cue in ("lonely", "missing", "grief", "bored"):
                decision.say(self.phrases.say(_LEADS[cue]))
                decision.small_talk = True
            return
        if step.why in _LEADS and not decision.lines:
            decision.say(self.phrases.say(_LEADS[step.why]))
        self._offer(decision, step, convo, now)
        state.suggestions.append(Suggestion(now.date().isoformat(), step.kind))
        state.forget_old_suggestions(now.date())
        convo.suggestions += 1
        interest = step.interest
        if interest and interest not in state.profile.interests and interest not in convo.asked_to_remember:
            convo.asked_to_remember.add(interest)
            line = self.phrases.say("ask_remember_interest").format(interest=interest)
            decision.later.append(Question("remember_interest", line, value=interest))
        if (
            preferred
            and preferred != state.profile.preferred_format
            and "format" not in convo.asked_to_remember
        ):
            convo.asked_to_remember.add("format")
            line = self.phrases.say("ask_remember_format").format(
                format=self.phrases.say(f"format_{preferred}")
            )
            decision.later.append(Question("remember_format", line, value=preferred))

    def _offer_to_remember_relative(
        self, decision: Decision, reading: Reading, convo: Conversation, state: MindState
    ) -> None:
        """ "Må jeg huske, at din datter hedder Lone?" — asked once, kept only after a yes."""
        told = reading.told_relative
        known = {r.name.lower() for r in self.catalogue.relatives} | {
            n.lower() for n, _ in state.profile.relatives
        }
        if told is None or told.name.lower() in known or f"relative:{told.name}" in convo.asked_to_remember:
            return
        convo.asked_to_remember.add(f"relative:{told.name}")
        line = self.phrases.say("ask_remember_relative").format(relation=told.relation, name=told.name)
        question = Question("remember_relative", line, value=told.name, relation=told.relation)
        if decision.question is None and not decision.small_talk:
            decision.ask(question)
        else:
            decision.later.append(question)

    def _offer(self, decision: Decision, step: Step, convo: Conversation, now: datetime) -> None:
        say = self.phrases.say
        decision.acts.append(act("human_next_step", step=step.kind))
        if step.relative is not None:
            name = step.relative.name
            decision.say(say("suggest_relative").format(name=name), act("relative_suggested", name))
            at = (now + _RELATIVE_REMINDER_DELAY).replace(second=0, microsecond=0)
            what = say("call_relative").format(name=name)
            offer = Question(
                "offer_reminder", say("offer_relative_reminder"), relative=name, at=at, what=what
            )
            decision.ask(replace(offer, suggestion=True))
            return
        if step.group is None:
            decision.say(say("suggest_volunteer_general"), act("volunteer_suggested"))
            return
        group = step.group
        convo.last_group_id = group.id
        session = group.next_session(now)  # choose_step offers only groups that still meet
        fields = {
            "name": group.name,
            "when": say_time(session, now, self.language.time_words),
            "description": group.description,
            "place": group.place,
            "contact": group.contact,
        }
        key = "suggest_skill" if step.why == "skill" else "suggest_group"
        if group.kind == "volunteer":
            key = "suggest_volunteer"
        elif group.format != "physical" and step.why != "skill":
            key = "suggest_group_online"
        decision.say(say(key).format(**fields), act("group_suggested", group.id))
        decision.llm_note = f"{group.name}: {group.description}"
        decision.ask(
            Question(
                "offer_reminder",
                say("offer_group_reminder"),
                group_id=group.id,
                at=session,
                what=group.name,
                suggestion=True,
            )
        )

    def _follow_up_or_chat(
        self, decision: Decision, reading: Reading, convo: Conversation, state: MindState, now: datetime
    ) -> None:
        group = self._follow_up_due(state, now)
        if group is not None and not convo.followup_asked:
            convo.followup_asked = True
            decision.acts.append(act("follow_up_asked"))
            decision.ask(
                Question(
                    "follow_up", self.phrases.say("followup_ask").format(name=group.name), group_id=group.id
                )
            )
            return
        if not state.paused_until_asked and (found := self.access.relative_suggestion(self.catalogue, now)):
            self._relative_suggests(decision, found[0].suggested_by, found[1], convo, now)
            return
        decision.small_talk = True
        decision.acts.append(act("small_talk"))
        last = self.catalogue.group(convo.last_group_id) if convo.last_group_id else None
        if last is not None:
            decision.llm_note = f"{last.name}: {last.description}"

    def _relative_suggests(
        self, decision: Decision, name: str, group: Group, convo: Conversation, now: datetime
    ) -> None:
        """ "Anne har foreslået Læsegruppen til dig." — their step toward people, passed on once."""
        convo.last_group_id = group.id
        session = group.next_session(now)
        when = say_time(session, now, self.language.time_words)
        key = "schedule" if group.format == "physical" else "schedule_remote"
        place = group.place if group.format == "physical" else group.place[:1].lower() + group.place[1:]
        decision.say(self.phrases.say("relative_suggests").format(name=name, group=group.name))
        decision.say(
            self.phrases.say(key).format(name=group.name, when=when, place=place),
            act("relative_suggestion", group.id),
        )
        decision.ask(
            Question(
                "offer_reminder",
                self.phrases.say("offer_group_reminder"),
                group_id=group.id,
                at=session,
                what=group.name,
            )
        )

    def _follow_up_due(self, state: MindState, now: datetime) -> Group | None:
        """The group of a session that has ended (and is not a fortnight old), to ask how it went."""
        local = now.replace(tzinfo=None)
        state.follow_ups = [
            f for f in state.follow_ups if local - datetime.fromisoformat(f.session) < _FOLLOW_UP_FOR
        ]
        for follow_up in state.follow_ups:
            group = self.catalogue.group(follow_up.group_id)
            if (
                group is not None
                and datetime.fromisoformat(follow_up.session) + timedelta(minutes=group.minutes) < local
            ):
                return group
        return None
