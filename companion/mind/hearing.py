"""Asking again well: when the recogniser itself is unsure of what it heard, the companion says what it
thinks it heard and asks, instead of acting on a guess; a second miss offers the simpler path ("Sig det
gerne med få ord"). An older person who is misunderstood twice gives up; one who is asked kindly goes on.

Never in a crisis: words of danger, however unsure, are answered at once (rules.py's crisis comes first).
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.content import Phrases
from companion.mind.memory import Conversation
from companion.mind.replies import Decision, act
from companion.mind.understand import Reading


@dataclass(frozen=True)
class Heard:
    """What to do with a turn: answer `text` as usual, or say `decision` and wait for the person."""

    text: str
    decision: Decision | None = None


def check_hearing(text: str, sure: bool, reading: Reading, convo: Conversation, phrases: Phrases) -> Heard:
    """`reading` is of `text`. The conversation keeps the words asked about and the misses in a row."""
    asked = convo.heard_check
    convo.heard_check = ""
    if asked and sure:
        if reading.has("yes") and not reading.has("no"):
            convo.unsure_misses = 0
            return Heard(asked)  # "ja": what was asked about is answered as if heard clearly
        if reading.has("no"):
            return _few_words(convo, phrases)
    if sure or reading.has("crisis"):
        convo.unsure_misses = 0
        return Heard(text)
    convo.unsure_misses += 1
    if convo.unsure_misses >= 2:
        return _few_words(convo, phrases)
    convo.heard_check = text
    line = phrases.say("heard_check").format(heard=text.strip().rstrip(".!?"))
    decision = Decision(acts=[act("asks_if_heard_right"), act("no_nudge")])
    return Heard(text, decision.say(line))


def _few_words(convo: Conversation, phrases: Phrases) -> Heard:
    convo.unsure_misses = 0
    decision = Decision(acts=[act("asks_few_words"), act("no_nudge")])
    return Heard("", decision.say(phrases.say("few_words")))
