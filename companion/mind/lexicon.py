"""Matching what a person says to the catalogue: interests, skills and group names, by word stems.

Words are stemmed with the Snowball stemmer for the language, so "romaner" and "bøgerne" meet "roman" and
"bog" without a list of every inflection. What stemming cannot see — "læste" for "læse", "sang" for
"synge", synonyms — comes from the word families in dialogs/<lang>/interests.toml: a catalogue interest
word pulls in its whole family. Speech recognition splits and joins compounds at will ("læse gruppe"),
so two neighbouring words are also tried as one.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from companion.mind.catalogue import Catalogue, Group

_STEMMER_NAMES = {"da": "danish", "en": "english"}
# A stem this long is distinctive enough to be found inside a compound ("tomatplanter").
_COMPOUND_STEM = 5
_NAME_SIMILARITY = 84
_SPELLED_OUT = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e"})


@cache
def _stemmer(language: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(_STEMMER_NAMES.get(language, "english"))


@lru_cache(maxsize=65536)
def _stem(language: str, word: str) -> str:
    return str(_stemmer(language).stemWord(word))


def whole_words(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regular expression for a list of dialogs/ patterns, each matching whole words only."""
    return re.compile("|".join(rf"(?:(?<!\w){p}(?!\w))" for p in patterns))


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, sentence ends as " . ", other punctuation as spaces."""
    text = unicodedata.normalize("NFC", text).lower().replace("'", "").replace("’", "")
    text = re.sub(r"[.!;:]+(?=\s|$)", " . ", text)
    text = text.replace("?", " ? . ")
    text = re.sub(r"[^\w\s.?]", " ", text)
    text = re.sub(r"(?<!\d)\.(?!\d)", " . ", text)
    return re.sub(r"\s+", " ", text).strip()


def words_of(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text)


def spelled_out(word: str) -> str:
    """ "læsegruppe" → "laesegruppe": how a recogniser without the Danish letters writes it."""
    return word.translate(_SPELLED_OUT)


@dataclass(frozen=True)
class Lexicon:
    language: str
    families: Mapping[str, tuple[str, ...]]
    skills: Mapping[str, tuple[str, ...]]
    ignore: frozenset[str]
    generic_name_words: frozenset[str]
    relation_words: frozenset[str]
    fillers: frozenset[str]
    company_family: str = "company"
    """The family of plain wanting company (kaffe, snak): the weakest evidence of an interest."""
    respell: Mapping[str, str] = field(default_factory=dict)
    """How a recogniser without the language's letters writes them ("ae" for "æ"), to undo it."""
    relations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Other words for a relation: "dreng" for "søn", "lillebror" for "bror"."""

    split: Mapping[str, str] = field(default_factory=dict)
    """Words a recogniser runs together ("mindmig"), and what was said."""

    @cached_property
    def told_relative(self) -> re.Pattern[str] | None:
        """ "min datter Lone", "min søn hedder Bo": a relation word followed by a word that may be a name."""
        relations = "|".join(sorted(map(re.escape, self.relation_words), key=len, reverse=True))
        if not relations:
            return None
        naming = r"(?:hedder\s+|is called\s+|called\s+)?"
        return re.compile(rf"(?<!\w)(?:min|mit|mine|my)\s+({relations})\s+{naming}([^\W\d_]{{2,}})")

    def respelled(self, text: str) -> str:
        for plain, letter in self.respell.items():
            text = text.replace(plain, letter)
        if self.split:
            text = " ".join(self.split.get(word, word) for word in text.split(" "))
        return text

    def stem(self, word: str) -> str:
        return _stem(self.language, word.lower())

    def stems(self, words: Iterable[str]) -> set[str]:
        return {self.stem(w) for w in words if w.lower() not in self.ignore}

    def family_of(self, word: str, *, skills: bool = False) -> str | None:
        """The label of the interest (or skill) family a word belongs to, by stem, if any."""
        table = self._skill_stems if skills else self._family_stems
        return table.get(self.stem(word))

    def members(self, label: str | None, *, skills: bool = False) -> tuple[str, ...]:
        return (self.skills if skills else self.families).get(label or "", ())

    @cached_property
    def _family_stems(self) -> dict[str, str]:
        return self._stems_to_label(self.families)

    @cached_property
    def _skill_stems(self) -> dict[str, str]:
        return self._stems_to_label(self.skills)

    def _stems_to_label(self, families: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
        found: dict[str, str] = {}
        for label, members in families.items():
            for word in (label, *members):
                if " " not in word:
                    found.setdefault(self.stem(word), label)
        return found


def load_lexicon(dialogs: Path, language: str, matching: Mapping[str, Any]) -> Lexicon:
    """The families of dialogs/<lang>/interests.toml and the [matching] table of intents.toml."""
    from companion.content import read_toml_file

    path = dialogs / language / "interests.toml"
    raw = read_toml_file(path) if path.exists() else {}  # without families, stems alone still match

    def table(name: str) -> dict[str, tuple[str, ...]]:
        return {
            str(label): tuple(str(w).lower().strip() for w in words)
            for label, words in raw.get(name, {}).items()
        }

    def word_set(key: str) -> frozenset[str]:
        return frozenset(str(w).lower() for w in matching.get(key, ()))

    return Lexicon(
        language=language,
        families=table("families"),
        skills=table("skills"),
        ignore=word_set("ignore"),
        generic_name_words=word_set("generic_name_words"),
        relation_words=word_set("relation_words"),
        fillers=word_set("fillers"),
        company_family=str(matching.get("company_family", "company")),
        split={str(k): str(v) for k, v in matching.get("split", {}).items()},
        respell={str(k): str(v) for k, v in matching.get("respell", {}).items()},
        relations={
            str(k): tuple(str(w).lower() for w in v) for k, v in matching.get("relations", {}).items()
        },
    )


@dataclass(frozen=True)
class _Vocabulary:
    """The stems and phrases that point to one group, for one purpose (interests, skills or its name)."""

    stems: frozenset[str]
    phrases: tuple[str, ...] = ()
    weak: frozenset[str] = frozenset()
    """Stems that only say "company" (kaffe, snak): they count, but any more telling word counts double."""
    weak_phrases: frozenset[str] = frozenset()
    direct: frozenset[str] = frozenset()
    """The group's own words, before families were added: what a question about the group must name."""

    def weigh(self, said: Said, text: str) -> tuple[int, bool]:
        """(score, strong): how much of the group was said, and whether more than plain company was
        ("kaffe" alone is no interest to act on). Each phrase is searched for once."""
        found = {stem for stem in said.all if stem in self.stems}
        found |= {
            stem
            for stem in said.words - self.stems
            if any(
                len(known) >= _COMPOUND_STEM and (stem.startswith(known) or stem.endswith(known))
                for known in self.stems
            )
        }
        # The group's own words weigh most, its family's words next, words for plain company least.
        score = sum(3 if stem in self.direct else 1 if stem in self.weak else 2 for stem in found)
        strong = bool((said.all & self.stems) - self.weak)
        for phrase in self.phrases:
            if re.search(rf"\b{re.escape(phrase)}\b", text):
                weak = phrase in self.weak_phrases
                score += 1 if weak else 2
                strong = strong or not weak
        return score, strong


@dataclass(frozen=True)
class Said:
    """The stems of an utterance: of its words, and of each two neighbouring words run together."""

    words: frozenset[str]
    joined: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.words | self.joined


@dataclass(frozen=True)
class Match:
    group: Group
    score: int
    family: str
    """The interest (a family label, or the group's own word) that matched: "læsning", "sang"."""
    strong: bool = True
    """More than plain company was said ("kaffe" alone is no interest to act on)."""


@dataclass
class GroupIndex:
    """The catalogue prepared for matching; built once per catalogue."""

    lexicon: Lexicon
    catalogue: Catalogue
    _interests: dict[str, _Vocabulary] = field(default_factory=dict)
    _skills: dict[str, _Vocabulary] = field(default_factory=dict)
    _names: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lex = self.lexicon
        for group in self.catalogue.groups:
            interests = self._expand(group.interests, skills=False)
            self._interests[group.id] = interests
            self._skills[group.id] = self._expand(
                [*group.skills, *self._linked_skills(interests)], skills=True
            )
            name_words = words_of(f"{group.name} {group.id.replace('-', ' ')}".lower())
            joined = [
                a + b
                for a, b in itertools.pairwise(name_words)
                if a not in lex.ignore and b not in lex.ignore
            ]
            # "Bridgeklubben" is also called "bridge", "Madklubben" "mad".
            cut = [
                word[: -len(ending)]
                for word in name_words
                for ending in lex.generic_name_words
                if word.endswith(ending) and len(word) - len(ending) >= 3
            ]
            original = words_of(group.name)
            self._names[group.id] = frozenset(
                lex.stem(w)
                for w in [*name_words, *joined, *cut, *(w.lower() for w in original if w.isupper())]
                if (len(w) >= 3 or w.upper() in original)  # "IT" in "IT-caféen" names it
                and w.lower() not in lex.ignore
                and w.lower() not in lex.generic_name_words
            )

    def _expand(self, words: Iterable[str], *, skills: bool) -> _Vocabulary:
        stems: set[str] = set()
        weak: set[str] = set()
        weak_phrases: set[str] = set()
        phrases: list[str] = []
        words = list(words)
        for word in words:
            label = self.lexicon.family_of(word, skills=skills)
            for member in [word, *self.lexicon.members(label, skills=skills)]:
                if " " in member:
                    phrases.append(member.lower())
                    if label == self.lexicon.company_family:
                        weak_phrases.add(member.lower())
                elif member.lower() not in self.lexicon.ignore:
                    stems.add(self.lexicon.stem(member))
                    if label == self.lexicon.company_family:
                        weak.add(self.lexicon.stem(member))
        direct = {
            self.lexicon.stem(w) for w in words if " " not in w and w.lower() not in self.lexicon.ignore
        }
        return _Vocabulary(
            frozenset(stems),
            tuple(dict.fromkeys(phrases)),
            frozenset(weak),
            frozenset(weak_phrases),
            frozenset(direct),
        )

    def _linked_skills(self, interests: _Vocabulary) -> list[str]:
        """Skill families that share a word with a group's interests: a gardener (skill "havebrug") can
        help in the garden group even when the catalogue lists no skills for it."""
        linked = []
        for label, members in self.lexicon.skills.items():
            # A phrase's last word carries its meaning: "arbejdede med computere" links to computers.
            stems = {self.lexicon.stem(m.split()[-1]) for m in members}
            if stems & (interests.stems - interests.weak):
                linked.append(label)
        return linked

    def utterance_stems(self, text: str) -> Said:
        words = words_of(text)
        # "have gruppen" is one word said as two; "i går" is not ("går" alone means nothing here).
        joined = [a + b for a, b in itertools.pairwise(words) if b not in self.lexicon.ignore]
        return Said(frozenset(self.lexicon.stems(words)), frozenset(self.lexicon.stem(w) for w in joined))

    def by_interest(self, text: str) -> list[Match]:
        return self._rank(self._interests, text, skills=False)

    def by_skill(self, text: str) -> list[Match]:
        return self._rank(self._skills, text, skills=True)

    def _rank(
        self,
        vocabularies: Mapping[str, _Vocabulary],
        text: str,
        *,
        skills: bool,
    ) -> list[Match]:
        said = self.utterance_stems(text)
        matches = []
        for group in self.catalogue.groups:
            score, strong = vocabularies[group.id].weigh(said, text)
            if score:
                words = group.skills if skills else group.interests
                label = self._label(words, set(said.all), group.name, skills=skills)
                matches.append(Match(group, score, label, strong))
        return sorted(matches, key=lambda m: -m.score)

    def _label(self, words: tuple[str, ...], stems: set[str], fallback: str, *, skills: bool) -> str:
        for word in words:
            label = self.lexicon.family_of(word, skills=skills)
            family_stems = {
                self.lexicon.stem(m) for m in self.lexicon.members(label, skills=skills) if " " not in m
            }
            if self.lexicon.stem(word) in stems or family_stems & stems:
                return label or word
        return words[0] if words else fallback

    def named(self, text: str) -> tuple[list[Group], list[Group]]:
        """Groups the person asks about, best first: (by their name or their own interest words, by their
        name alone). "læsegruppen", "laese gruppe" and "skak i medborgerhuset" count; family words do not:
        "bridge" must not find the chess club."""
        from rapidfuzz import fuzz, process

        stems = set(self.utterance_stems(text).all)
        spelled = [spelled_out(s) for s in stems if len(s) >= 4]
        described = self._described(text)
        by_name: list[tuple[float, Group]] = []
        by_words: list[tuple[float, Group]] = []
        for group in self.catalogue.groups:
            score = 0.0
            for known in self._names[group.id]:
                if known in stems:
                    score += 3
                elif len(known) >= 5 and spelled:
                    # A near miss of the recogniser ("laesegruppen", "skærm kaffe") still names the group.
                    close = process.extractOne(
                        spelled_out(known), spelled, scorer=fuzz.ratio, score_cutoff=_NAME_SIMILARITY
                    )
                    score += 3 * close[1] / 100 if close else 0
            if described & self._interests[group.id].stems:
                score += 2
            if score:
                by_name.append((score, group))
            score += 2 * len(stems & self._interests[group.id].direct)
            if score:
                by_words.append((score, group))
        return _best_first(by_words), _best_first(by_name)

    def _described(self, text: str) -> set[str]:
        """Stems of what comes before a generic word: "læsegruppen" → "læse", "have gruppen" → "have".
        A group called by what it does names it as surely as its own name does."""
        generic = sorted(self.lexicon.generic_name_words, key=len, reverse=True)
        words = words_of(text)
        found = set()
        for index, word in enumerate(words):
            for ending in generic:
                if word == ending and index > 0:
                    found.add(self.lexicon.stem(words[index - 1]))
                elif word.endswith(ending) and len(word) - len(ending) >= 3:
                    found.add(self.lexicon.stem(word[: -len(ending)]))
        return found


def _best_first(scored: list[tuple[float, Group]]) -> list[Group]:
    return [group for _, group in sorted(scored, key=lambda pair: -pair[0])]
