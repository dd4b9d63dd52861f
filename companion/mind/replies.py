"""The building blocks of a decided reply: what is said, the acts it carries, the question it leaves open.

A `Decision` is made by the rules (rules.py) from a `Reading`; the Mind (policy.py) turns it into speech.
Acts are named as in ../shared/scenarios/README.md: `kind` alone, or `kind:target` where the outcome
names a group, a relative or a time. Targets are never the person's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from companion.events import Act

QuestionKind = Literal[
    "confirm_reminder",
    "confirm_delete",
    "confirm_remove_member",
    "offer_reminder",
    "ask_time",
    "remember_interest",
    "remember_format",
    "remember_relative",
    "follow_up",
    "consent_usage",
    "loneliness_permission",
    "loneliness_item",
]
ANSWERED_ELSEWHERE: frozenset[QuestionKind] = frozenset(
    {"confirm_remove_member", "consent_usage", "loneliness_permission", "loneliness_item"}
)
"""Questions that access, consent and the loneliness scale answer themselves; the agenda answers the rest."""


def act(kind: str, target: str | None = None, **details: str) -> Act:
    values = dict(details)
    if target is not None:
        values["target"] = target
    return Act(kind, MappingProxyType(values))


def outcome(done: Act) -> str:
    """The act as the scenario files name it: "helpline", "group_suggested:laesegruppe-valby"."""
    target = done.details.get("target")
    return f"{done.kind}:{target}" if target else done.kind


@dataclass(frozen=True)
class Question:
    """A yes/no (or "when?") question the companion has just asked and waits for an answer to."""

    kind: QuestionKind
    line: str = ""
    reminder_id: int = 0
    group_id: str = ""
    relative: str = ""
    at: datetime | None = None
    what: str = ""
    day_words: str = ""
    """For "what time?": the day already said ("på fredag"), to read together with the answer."""
    value: str = ""
    relation: str = ""
    suggestion: bool = False
    """The question offers a suggestion the person may decline (a decline counts toward the pause)."""
    misses: int = 0
    """How often in a row the answer was not heard (the question is asked again once, then dropped)."""


@dataclass
class Decision:
    lines: list[str] = field(default_factory=list)
    acts: list[Act] = field(default_factory=list)
    question: Question | None = None
    later: list[Question] = field(default_factory=list)
    """Questions to ask once the current one is answered (e.g. "Må jeg huske, at du kan lide at læse?")."""
    small_talk: bool = False
    """The rest of the reply is the language model's (guarded) small talk."""
    llm_note: str = ""
    """What the model should know for this turn only: the catalogue entries that matter now."""
    ends_conversation: bool = False
    closing_line: str = ""
    """Said after everything else, the model's small talk too: a question of the companion's own."""

    def say(self, line: str, *acts: Act) -> Decision:
        if line:
            self.lines.append(line)
        self.acts.extend(acts)
        return self

    def ask(self, question: Question) -> Decision:
        self.question = question
        if question.line:
            self.lines.append(question.line)
        return self

    def ask_at_end(self, question: Question) -> Decision:
        """Ask once the reply is said — after the model's small talk, when there is some."""
        if not self.small_talk:
            return self.ask(question)
        self.question, self.closing_line = question, question.line
        return self
