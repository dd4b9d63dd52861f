"""Understanding one thing the person said: which intents and cues it carries, which groups, interests,
skills and relatives it touches, and — for a reminder — when.

The patterns are content (dialogs/<lang>/intents.toml); this module only compiles and applies them. It
decides nothing: the policy does, from the `Reading` this returns.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from companion.content import read_toml_file
from companion.errors import SettingsError
from companion.mind.catalogue import Group, Relative
from companion.mind.lexicon import (
    GroupIndex,
    Lexicon,
    Match,
    load_lexicon,
    normalise,
    whole_words,
    words_of,
)
from companion.mind.when import TimeFound, TimeProblem, TimeWords, find_time, load_time_words

INTENTS = (
    "crisis",
    "human_question",
    "treats_as_person",
    "professional_topic",
    "advice_question",
    "services_topic",
    "services_fear",
    "services_direct",
    "leave_alone",
    "wants_suggestion",
    "lonely",
    "missing",
    "grief",
    "bored",
    "reminder",
    "today",
    "schedule",
    "repeat",
    "slower",
    "faster",
    "louder",
    "quieter",
    "stop",
    "yes",
    "no",
    "forget",
    "cancel_reminder",
    "pairing_code",
    "who_can_remind",
    "remove_member",
    "count_stop",
    "count_ok",
    "scale_often",
    "scale_sometimes",
    "scale_rarely",
    "scale_not_often",
    "scale_not_always",
    "scale_refuse",
    "emergency",
    "work_life",
    "group_words",
    "attended_yes",
    "attended_no",
    "prefers_physical",
    "prefers_online",
    "prefers_phone",
)
# A long story is searched whole for intents (a crisis may come at any point), but only its last part for
# interests, groups, relatives and time: that is what the reply answers, and it keeps a turn fast.
_MATCHED_CHARS = 600


@dataclass(frozen=True)
class Language:
    """Everything needed to understand one language, loaded once from dialogs/<lang>/."""

    code: str
    patterns: Mapping[str, re.Pattern[str]]
    lexicon: Lexicon
    time_words: TimeWords
    say_back: Mapping[str, Any]
    """The [say_back] table of intents.toml: how a reminder is repeated back."""


@cache
def load_language(dialogs: Path, language: str) -> Language:
    path = dialogs / language / "intents.toml"
    raw: dict[str, Any] = read_toml_file(path)
    intents: Mapping[str, Sequence[str]] = raw.get("intents", {})
    patterns: dict[str, re.Pattern[str]] = {}
    for name in INTENTS:
        alternatives = intents.get(name)
        if not alternatives:
            raise SettingsError(
                f"{path}: the intent '{name}' has no patterns.", "Add a list under [intents]."
            )
        try:
            patterns[name] = whole_words(alternatives)
        except re.error as error:
            raise SettingsError(f"{path}: a pattern of '{name}' is not valid: {error}") from error
    return Language(
        code=language,
        patterns=patterns,
        lexicon=load_lexicon(dialogs, language, raw.get("matching", {})),
        time_words=load_time_words(dialogs, language),
        say_back=raw.get("say_back", {}),
    )


@dataclass(frozen=True)
class Reading:
    """What one utterance carries. Holds the person's words only for as long as the turn lasts."""

    text: str
    normalised: str
    intents: frozenset[str]
    interests: tuple[Match, ...]
    skills: tuple[Match, ...]
    named_groups: tuple[Group, ...]
    """Groups asked about by their name or their own interest words, best first."""
    groups_by_name: tuple[Group, ...]
    """Groups called by their name only ("læseklubben"), for what the person reports about them."""
    relatives: tuple[Relative, ...]
    time: TimeFound | TimeProblem | None
    told_relative: Relative | None
    """A relative the person names with their relation ("min datter Lone"), which may be worth keeping."""
    meaningful: bool
    """False for silence, fillers and fragments too short to answer."""

    def has(self, *intents: str) -> bool:
        return any(intent in self.intents for intent in intents)

    @property
    def asks_professional(self) -> bool:
        return self.has("professional_topic") and self.has("advice_question")

    @property
    def fears_for_services(self) -> bool:
        return self.has("services_direct") or (self.has("services_topic") and self.has("services_fear"))

    @property
    def preferred_format(self) -> str | None:
        for intent, group_format in (
            ("prefers_phone", "phone"),
            ("prefers_online", "online"),
            ("prefers_physical", "physical"),
        ):
            if intent in self.intents:
                return group_format
        return None


def _relatives_named(text: str, relatives: Sequence[Relative], lexicon: Lexicon) -> tuple[Relative, ...]:
    """Relatives mentioned by name ("Anne") or by relation ("min datter", "sønnen", "min dreng")."""
    words = words_of(text)
    said_stems = {lexicon.stem(w) for w in words}
    said_words = set(words) | {" ".join(pair) for pair in itertools.pairwise(words)}
    found = []
    for relative in relatives:
        relation = relative.relation.lower()
        other_words = set(lexicon.relations.get(relation, ())) if relation else set()
        name = lexicon.respelled(relative.name.lower())
        by_name = name in said_words or f"{name}s" in said_words  # "kirstens stemme"
        by_relation = bool(relation) and (
            lexicon.stem(relation) in said_stems or relation in said_words or bool(other_words & said_words)
        )
        if by_name or by_relation:
            found.append(relative)
    return tuple(found)


def _told_relative(text: str, normalised: str, lexicon: Lexicon) -> Relative | None:
    """ "min datter Lone", "min søn hedder Bo", "my daughter Susan": a relation followed by a name. The
    recogniser writes names with a capital, which is what tells "min datter Lone" from "min datter ringer"."""
    pattern = lexicon.told_relative
    if pattern is None:
        return None
    for found in pattern.finditer(normalised):
        name = found.group(2)
        said_as = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
        if said_as and said_as.group(0)[:1].isupper() and name not in lexicon.ignore:
            return Relative(said_as.group(0), found.group(1))
    return None


def read(
    text: str, language: Language, index: GroupIndex, relatives: Sequence[Relative], now: datetime
) -> Reading:
    lexicon = language.lexicon
    plain = normalise(text)
    respelled = lexicon.respelled(plain)
    # Both spellings are read: "laeser" becomes "læser", but "poesi" must stay "poesi".
    normalised = plain if respelled == plain else f"{plain} . {respelled}"
    intents = frozenset(name for name, pattern in language.patterns.items() if pattern.search(normalised))
    recent = normalised[-_MATCHED_CHARS:]
    words = words_of(normalised)
    meaningful = any(w not in lexicon.fillers and len(w) > 1 for w in words) or bool(intents)
    named, by_name = index.named(recent)
    time: TimeFound | TimeProblem | None = None
    if "reminder" in intents:
        time = find_time(text, now, language.time_words)  # a reminder is short: its whole text
    return Reading(
        text=text,
        normalised=normalised,
        intents=intents,
        interests=tuple(index.by_interest(recent)),
        # "programme" is not a programmer: a skill counts only when the person speaks of their working life.
        skills=tuple(index.by_skill(recent)) if "work_life" in intents else (),
        named_groups=tuple(named),
        groups_by_name=tuple(by_name),
        relatives=_relatives_named(recent, relatives, lexicon),
        time=time,
        told_relative=_told_relative(text[-_MATCHED_CHARS:], recent, lexicon),
        meaningful=meaningful,
    )
