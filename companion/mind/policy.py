"""The Mind: the companion's dialog policy behind the speech loop's `Dialog` protocol.

Each turn: understand (understand.py), decide (rules.py), keep what must be kept (memory.py), then speak —
the decided lines first, and, only where the rules leave room for small talk, the language model's words
through the guard (guard.py). Every reply ends with ReplyDone carrying the acts: the structured record of
what was decided, the same record the usage summaries count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from companion.content import Phrases
from companion.errors import MindError
from companion.events import Act, ReplyDelta, ReplyDone, Transcript
from companion.mind.catalogue import Relative
from companion.mind.guard import Guard, Verdict
from companion.mind.hearing import Heard, check_hearing
from companion.mind.memory import Conversation, MindState, StateStore
from companion.mind.replies import Decision, act
from companion.mind.rules import Rules
from companion.mind.understand import read

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_GUARD_LINES = {
    "claims_human": ("guard_human", "discloses_machine"),
    "medical_advice": ("guard_medical", "defers_to_professional"),
    "money_legal_advice": ("guard_advice", "defers_to_professional"),
    "promises": ("guard_promise", "no_promise"),
}


class SmallTalk(Protocol):
    """The language model as the Mind uses it (LlamaChat in production)."""

    def reply(self, user_text: str, note: str = "") -> Iterator[str]: ...

    def add_exchange(self, user_text: str, reply: str) -> None: ...

    def replace_last_reply(self, reply: str) -> None: ...

    def forget(self) -> None: ...


class VoiceTuning(Protocol):
    def tune(self, length_scale_step: int, volume_step: int) -> None: ...


@dataclass(frozen=True)
class MindOptions:
    conversation_gap: timedelta = timedelta(minutes=10)
    llm_words: int = 60
    """Of a long monologue the model sees only the last words; the rules read all of it."""


@dataclass
class Mind:
    rules: Rules
    store: StateStore
    clock: Clock
    guard: Guard
    chat: SmallTalk | None = None
    voice: VoiceTuning | None = None
    options: MindOptions = MindOptions()
    conversation: Conversation = field(default_factory=Conversation)
    _state: MindState | None = None

    @property
    def phrases(self) -> Phrases:
        return self.rules.phrases

    @property
    def state(self) -> MindState:
        if self._state is None:
            try:
                self._state = self.store.load()
            except MindError as error:
                # A memory it cannot read must not silence the companion (a crisis line above all):
                # carry on with a fresh one in RAM and say why in the log.
                log.error("%s Carrying on without what was remembered.", error.message)
                self._state = MindState()
            if self.voice is not None:
                self.voice.tune(self._state.length_scale_step, self._state.volume_step)
        return self._state

    def warm_up(self) -> None:
        """Load the memory and the date library now: the first reminder with a date then costs no more
        than any other turn (dateparser's first call takes a few hundred milliseconds)."""
        from companion.mind.when import find_time

        _ = self.state
        words = self.rules.language.time_words
        for sample in ("den 3. november", "on 3 November"):  # whichever the language's words can read
            find_time(sample, self.clock(), words)

    def end_conversation(self) -> None:
        """Forget the conversation: its words, its open question, its count of suggestions."""
        self.conversation = Conversation()
        if self.chat is not None:
            self.chat.forget()

    def respond(self, transcript: Transcript) -> Iterator[ReplyDelta | ReplyDone]:
        now = self.clock()
        if not transcript.text.strip():
            yield ReplyDelta(self.phrases.say("nothing_heard"))
            yield ReplyDone((act("nothing_heard"),))
            return
        self._end_if_long_ago(now)
        heard = self._check_hearing(transcript, now)
        if heard.decision is not None:  # asked what was said, or for fewer words: nothing acted on
            line = " ".join(heard.decision.lines)
            yield ReplyDelta(line)
            heard.decision.question = self.conversation.pending  # the open question stays open
            self._after_reply(line, heard.decision, now)
            yield ReplyDone(tuple(heard.decision.acts))
            return
        decision = self.decide(heard.text, now)
        spoken: list[str] = [" ".join(decision.lines)] if decision.lines else []
        if spoken:
            yield ReplyDelta(spoken[0])
        acts = list(decision.acts)
        if decision.small_talk:
            for piece in self._small_talk(transcript.text, decision, acts, bool(spoken)):
                spoken.append(piece)
                yield ReplyDelta(piece)
        elif self.chat is not None and spoken:
            self.chat.add_exchange(self._for_model(transcript.text), spoken[0])
        if decision.closing_line:
            closing = (" " if spoken else "") + decision.closing_line
            spoken.append(closing)
            yield ReplyDelta(closing)
        self._after_reply("".join(spoken).strip(), decision, now)
        yield ReplyDone(tuple(acts))

    def _end_if_long_ago(self, now: datetime) -> None:
        convo = self.conversation
        if convo.last_turn is not None and now - convo.last_turn > self.options.conversation_gap:
            self.end_conversation()

    def _check_hearing(self, transcript: Transcript, now: datetime) -> Heard:
        if transcript.sure and not self.conversation.heard_check:
            self.conversation.unsure_misses = 0
            return Heard(transcript.text)
        reading = read(
            transcript.text, self.rules.language, self.rules.index, self._relatives(self.state), now
        )
        return check_hearing(transcript.text, transcript.sure, reading, self.conversation, self.phrases)

    def decide(self, text: str, now: datetime) -> Decision:
        """Understand and decide, and keep the durable part; nothing is spoken yet."""
        self._end_if_long_ago(now)
        convo = self.conversation
        state = self.state
        before = state.to_json()
        reading = read(text, self.rules.language, self.rules.index, self._relatives(state), now)
        decision = self.rules.decide(reading, convo, state, now)
        if state.to_json() != before:
            try:
                self.store.save(state)
            except Exception:
                self._state = None  # what is in RAM must never differ from what is kept
                raise
            if self.voice is not None:
                self.voice.tune(state.length_scale_step, state.volume_step)
        return decision

    def _after_reply(self, spoken: str, decision: Decision, now: datetime) -> None:
        convo = self.conversation
        convo.turns += 1
        convo.last_turn = now
        if not any(a.kind == "repeat" for a in decision.acts):
            convo.last_reply = spoken
        convo.pending = decision.question
        # Questions for later are asked once the open one is answered, in the order they arose.
        convo.later = [*decision.later, *convo.later]
        if decision.ends_conversation:
            self.end_conversation()

    def _relatives(self, state: MindState) -> list[Relative]:
        return [*self.rules.catalogue.relatives, *(Relative(n, r) for n, r in state.profile.relatives)]

    def _for_model(self, text: str) -> str:
        words = text.split()
        return " ".join(words[-self.options.llm_words :])

    def _small_talk(self, text: str, decision: Decision, acts: list[Act], has_lead: bool) -> Iterator[str]:
        """The model's words, guarded; fixed lines when there is no model or it says nothing."""
        said = ""
        if self.chat is not None:
            note = self._note(decision)
            for piece in self.guard.filter(iter(self.chat.reply(self._for_model(text), note))):
                if isinstance(piece, Verdict):
                    key, guard_act = _GUARD_LINES[piece.reason]
                    replacement = (" " if said else "") + self.phrases.say(key)
                    acts += [act(guard_act), act("guard_replaced", piece.reason)]
                    said += replacement
                    self.chat.replace_last_reply(said)
                    yield replacement
                    return
                if has_lead and not said and not piece[:1].isspace():
                    piece = f" {piece}"  # the fixed line before it ends a sentence: keep them apart
                said += piece
                yield piece
        if not said.strip():
            yield (" " if has_lead else "") + self.phrases.say("small_talk")

    def _note(self, decision: Decision) -> str:
        facts = []
        interests = self.state.profile.interests
        if interests:
            facts.append(self.phrases.say("llm_note_profile").format(facts=", ".join(interests)))
        if decision.llm_note:
            facts.append(self.phrases.say("llm_note_group").format(group=decision.llm_note))
        return " ".join(facts)
