"""Understanding: intents, interests by stem and family, relatives, group names, and time in a sentence."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.mind.build import load_catalogue
from companion.mind.catalogue import COPENHAGEN, Catalogue, Relative
from companion.mind.lexicon import GroupIndex, normalise
from companion.mind.understand import Reading, load_language, read
from companion.mind.when import TimeFound, TimeProblem

from minds import DIALOGS, MONDAY_MORNING

RELATIVES = (Relative("Anne", "datter"), Relative("Peter", "søn"), Relative("Jørgen", "bror"))


def reading(text: str, language: str = "da", now: datetime = MONDAY_MORNING) -> Reading:
    understood = load_language(DIALOGS, language)
    catalogue = Catalogue(load_catalogue(DIALOGS, language).groups, RELATIVES)
    return read(text, understood, GroupIndex(understood.lexicon, catalogue), RELATIVES, now)


@pytest.mark.parametrize(
    "text",
    [
        "Jeg har altid elsket romaner.",
        "Jeg læste meget før i tiden.",
        "bøgerne står på hylden og venter",
        "jeg laeser hver aften",  # a recogniser without æ
        "Jeg holder meget af poesi.",  # and a word with "oe" that is no "ø"
    ],
)
def test_inflections_and_family_words_meet_the_reading_group(text: str) -> None:
    assert reading(text).interests[0].group.id == "laesegruppe-valby"


def test_the_matched_interest_is_named_by_its_family_for_the_remember_question() -> None:
    assert reading("Jeg elsker at synge gamle sange.").interests[0].family == "sang"


def test_a_skill_counts_only_when_the_person_speaks_of_working_life() -> None:
    assert reading("Jeg var tømrer i fyrre år.").skills[0].group.id in {
        "reparationscafe",
        "maendenes-vaerksted",
    }
    assert reading("Tømreren kommer i morgen.").skills == ()


def test_words_for_plain_company_are_weak_evidence() -> None:
    coffee = reading("Jeg har lige drukket en kop kaffe.").interests
    assert coffee and not any(match.strong for match in coffee)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Jeg har ikke hørt fra min datter længe.", "Anne"),
        ("min dreng ringer aldrig", "Peter"),
        ("Jeg savner min lillebror.", "Jørgen"),
        ("jeg har ikke set joergen siden jul", "Jørgen"),
        ("Annes børn er store nu.", "Anne"),
    ],
)
def test_relatives_are_found_by_name_relation_or_other_word(text: str, name: str) -> None:
    assert [r.name for r in reading(text).relatives] == [name]


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("Hvornår er der læsegruppe?", "laesegruppe-valby"),
        ("hvad tid mødes have gruppen", "havegruppen"),
        ("kl hvad starter laesegruppen", "laesegruppe-valby"),
        ("hvornår er der skærm kaffe", "skaermkaffe"),
    ],
)
def test_groups_are_named_despite_split_words_and_missing_letters(text: str, group: str) -> None:
    found = reading(text)
    assert found.has("schedule")
    assert found.named_groups[0].id == group


def test_a_family_word_does_not_name_a_group() -> None:
    # "bridge" is in the card-games family, but no group in the catalogue plays bridge by name.
    assert all(
        g.id != "spilleklubben" or "bridge" in g.interests for g in reading("spiller de bridge").named_groups
    )


@pytest.mark.parametrize(
    ("text", "intent", "language"),
    [
        ("Jeg orker ikke at leve længere.", "crisis", "da"),
        ("jeg har gemt alle mine sovepiller", "crisis", "da"),
        ("Er du et rigtigt menneske?", "human_question", "da"),
        ("Hvor mange hjertepiller må jeg tage?", "advice_question", "da"),
        ("Du taler alt for hurtigt.", "slower", "da"),
        ("skru lige ned for dig selv", "quieter", "da"),
        ("Hvad sagde du?", "repeat", "da"),
        ("tak for snakken", "stop", "da"),
        ("Jeg vil have lov til at være mig selv.", "leave_alone", "da"),
        ("I don't want to live anymore.", "crisis", "en"),
        ("Are you a real person?", "human_question", "en"),
        ("Speak up, I can't hear you.", "louder", "en"),
    ],
)
def test_intents(text: str, intent: str, language: str) -> None:
    assert reading(text, language).has(intent)


@pytest.mark.parametrize(
    "text",
    [
        "Jeg er død træt i dag.",
        "Det var til at dø af grin over.",
        "jeg hørte en sang om en der ville dø for sin kærlighed",
        "Min mand døde for mange år siden, men jeg har det godt.",
    ],
)
def test_idioms_with_death_words_are_no_crisis(text: str) -> None:
    assert not reading(text).has("crisis")


def test_a_reminder_carries_its_time_resolved_in_copenhagen() -> None:
    found = reading("Mind mig om at ringe til Anne i morgen klokken ti.").time
    assert isinstance(found, TimeFound)
    assert found.at == datetime(2026, 3, 3, 10, 0, tzinfo=COPENHAGEN)


def test_a_time_in_the_spring_gap_is_a_problem_not_a_guess() -> None:
    night_before = datetime(2026, 3, 28, 12, 0, tzinfo=COPENHAGEN)
    found = reading("mind mig om medicinen i morgen klokken 02.30", now=night_before).time
    assert isinstance(found, TimeProblem) and found.reason == "dst_gap"


def test_normalise_keeps_sentence_ends_and_drops_apostrophes() -> None:
    assert normalise("Don't! Really?") == "dont . really ? ."


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_without_error(text: str) -> None:
    found = reading(text)
    assert found.text == text
    assert isinstance(found.meaningful, bool)


@settings(max_examples=60, deadline=None)
@given(
    before=st.sampled_from(["", "Godmorgen. ", "Altså, ", "det er koldt i dag og "]),
    after=st.sampled_from(["", " Det er sandt.", " hm", " og sådan er det"]),
    crisis=st.sampled_from(
        ["jeg vil ikke leve mere", "jeg tænker på at tage mit eget liv", "jeg vil bare dø"]
    ),
)
def test_a_crisis_phrase_is_heard_whatever_surrounds_it(before: str, after: str, crisis: str) -> None:
    assert reading(f"{before}{crisis}{after}").has("crisis")
