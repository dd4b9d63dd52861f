"""The Three-Item Loneliness Scale by voice: only with consent, with leave, every 3 months, only the sum."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from companion.mind.catalogue import COPENHAGEN
from companion.mind.loneliness import answer_of
from companion.mind.policy import Mind
from companion.mind.understand import read
from companion.store.schema import DEVICE_HOUSEHOLD, marks, usage_days
from companion.usage.store import LONELINESS_MARK, decide

from minds import MONDAY_MORNING, Clock, make_mind, reminders, say


def _counted_mind(language: str = "da") -> tuple[Mind, Clock, Engine]:
    clock = Clock()
    mind = make_mind(language, clock=clock)
    engine = mind.rules.agenda.book.engine
    decide(engine, DEVICE_HOUSEHOLD, True, MONDAY_MORNING.date())
    return mind, clock, engine


def _scores(engine: Engine) -> dict[str, int]:
    """Every count in the database: a measure/detail → its count."""
    with engine.connect() as connection:
        rows = connection.execute(select(usage_days.c.measure, usage_days.c.detail, usage_days.c.count)).all()
    return {f"{measure}/{detail}": count for measure, detail, count in rows}


def _next_conversation(mind: Mind, clock: Clock, later: timedelta = timedelta(hours=3)) -> None:
    mind.end_conversation()
    clock.now += later


def test_with_consent_the_three_questions_are_asked_with_leave_and_only_the_sum_is_kept() -> None:
    mind, clock, engine = _counted_mind()
    reply, outcomes = say(mind, "Godmorgen.")
    assert "tre korte spørgsmål" in reply and "loneliness_offered" in outcomes
    reply, outcomes = say(mind, "Ja, det må du godt.")
    assert "savner nogen at være sammen med" in reply and "ofte, en gang imellem eller næsten aldrig" in reply
    reply, _ = say(mind, "Ja, det gør jeg tit.")
    assert "holdt udenfor" in reply
    reply, _ = say(mind, "Af og til.")
    assert "isoleret fra andre" in reply
    reply, outcomes = say(mind, "Nej, næsten aldrig.")
    assert "Tak, fordi du svarede" in reply and "loneliness_answered" in outcomes
    assert _scores(engine) == {"loneliness_score/6": 1}  # 3 + 2 + 1, and not one answer on its own

    _next_conversation(mind, clock)
    reply, outcomes = say(mind, "Godmorgen igen.")
    assert "loneliness_offered" not in outcomes  # not again until three months have passed
    _next_conversation(mind, clock, timedelta(days=91))
    reply, outcomes = say(mind, "Godmorgen.")
    assert "loneliness_offered" in outcomes


def test_without_consent_the_questions_are_never_asked() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    for _ in range(3):
        reply, outcomes = say(mind, "Godmorgen.")
        assert "loneliness_offered" not in outcomes and "spørgsmål" not in reply
        _next_conversation(mind, clock, timedelta(days=100))
    decide(mind.rules.agenda.book.engine, DEVICE_HOUSEHOLD, False, clock.now.date())
    reply, outcomes = say(mind, "Godmorgen.")
    assert "loneliness_offered" not in outcomes  # a "nej" to counting is a no to these questions too


def test_a_no_is_respected_until_the_next_quarter_and_a_half_answered_scale_keeps_nothing() -> None:
    mind, clock, engine = _counted_mind()
    say(mind, "Hej.")
    reply, outcomes = say(mind, "Nej tak.")
    assert "loneliness_declined" in outcomes and "helt i orden" in reply
    _next_conversation(mind, clock, timedelta(days=14))  # still the first quarter
    _, outcomes = say(mind, "Hej.")
    assert "loneliness_offered" not in outcomes
    _next_conversation(mind, clock, timedelta(days=30))  # April: a new quarter
    _, outcomes = say(mind, "Hej.")
    assert "loneliness_offered" in outcomes
    say(mind, "Ja.")
    say(mind, "Ofte.")
    _next_conversation(mind, clock)  # the conversation ends half-way: nothing is kept
    assert _scores(engine) == {}


def test_an_answer_not_heard_is_asked_again_once_then_dropped() -> None:
    mind, _clock, engine = _counted_mind()
    say(mind, "Hej.")
    say(mind, "Ja.")
    reply, outcomes = say(mind, "Mnja, hmm, tja.")
    assert "hørte jeg ikke helt" in reply and "savner nogen" in reply and "næsten aldrig" in reply
    reply, outcomes = say(mind, "Ikke altid.")  # between two answers: not guessed
    assert "loneliness_dropped" in outcomes and "lader spørgsmålene ligge" in reply
    assert _scores(engine) == {}


@pytest.mark.parametrize("refusal", ["Nej.", "Det vil jeg helst ikke svare på.", "Spring det over."])
def test_a_refusal_puts_the_questions_away_at_once(refusal: str) -> None:
    mind, _clock, engine = _counted_mind()
    for text in ("Hej.", "Ja.", "En gang imellem."):
        say(mind, text)
    reply, outcomes = say(mind, refusal)
    assert "loneliness_dropped" in outcomes and "holdt udenfor" not in reply and _scores(engine) == {}


def test_the_first_words_are_answered_before_the_question_is_put() -> None:
    mind, _clock, _engine = _counted_mind()
    reply, outcomes = say(mind, "Godmorgen, hvordan har du det?")
    assert "small_talk" in outcomes and "loneliness_offered" in outcomes
    assert not reply.startswith("Må jeg") and reply.endswith("Du må gerne sige nej.")  # the question last
    _, outcomes = say(mind, "Ja, det må du gerne.")
    assert "loneliness_started" in outcomes


def test_speaking_of_something_else_drops_the_questions_and_is_answered() -> None:
    mind, _clock, engine = _counted_mind()
    say(mind, "Hej.")
    say(mind, "Ja.")
    reply, outcomes = say(mind, "Hvad skal jeg i dag?")
    assert "savner nogen" not in reply and "today" in " ".join(outcomes)
    say(mind, "Hej.")
    _next_conversation(mind, _clock, timedelta(days=40))
    say(mind, "Hej.")
    say(mind, "Ja.")
    reply, outcomes = say(mind, "Mind mig om at tage pillerne hver dag klokken otte.")
    assert "holdt udenfor" not in reply and reminders(mind)  # a request, not an "ofte"
    assert _scores(engine) == {}


def test_a_farewell_or_words_of_despair_get_no_question_of_the_companions_own() -> None:
    mind, clock, _engine = _counted_mind()
    reply, outcomes = say(mind, "Farvel.")
    assert "loneliness_offered" not in outcomes and "spørgsmål" not in reply
    _next_conversation(mind, clock)
    reply, outcomes = say(mind, "Jeg er faldet og kan ikke rejse mig.")
    assert "helpline" in outcomes and "loneliness_offered" not in outcomes
    _next_conversation(mind, clock)
    _, outcomes = say(mind, "Godmorgen.")
    assert "loneliness_offered" in outcomes  # still due: it was never put


def test_taking_consent_back_deletes_the_scores_and_when_they_were_asked() -> None:
    mind, _clock, engine = _counted_mind()
    for text in ("Hej.", "Ja.", "Ofte.", "Ofte.", "Ofte."):
        say(mind, text)
    assert _scores(engine) == {"loneliness_score/9": 1}
    _reply, outcomes = say(mind, "Du må ikke tælle mere.")
    assert "consent_refused" in outcomes and _scores(engine) == {}
    with engine.connect() as connection:
        assert connection.scalar(select(marks.c.value_utc).where(marks.c.name == LONELINESS_MARK)) is None


def test_in_english_too() -> None:
    mind, _clock, engine = _counted_mind("en")
    reply, _ = say(mind, "Good morning.", "en")
    assert "three short questions" in reply
    reply, _ = say(mind, "Yes, go ahead.", "en")
    assert "lack companionship" in reply
    for text in ("Hardly ever.", "Some of the time.", "Not very often."):
        reply, _ = say(mind, text, "en")
    assert "Thank you for answering" in reply and _scores(engine) == {"loneliness_score/4": 1}


@pytest.mark.parametrize(
    ("language", "said", "score"),
    [
        ("da", "Ofte", "3"),
        ("da", "Ja, det gør jeg tit", "3"),
        ("da", "Næsten hver dag", "3"),
        ("da", "Hele tiden, desværre", "3"),
        ("da", "En gang imellem", "2"),
        ("da", "engang imellem", "2"),
        ("da", "Af og til, vel", "2"),
        ("da", "Nogle gange", "2"),
        ("da", "Indimellem", "2"),
        ("da", "Næsten aldrig", "1"),
        ("da", "Aldrig", "1"),
        ("da", "Ikke så tit", "1"),
        ("da", "Nej, ikke særlig ofte", "1"),
        ("da", "Sjældent", "1"),
        ("da", "Nej, ikke rigtig", "1"),
        ("da", "Nej", None),
        ("da", "Det ved jeg ikke", None),
        ("da", "Ofte, og af og til", None),  # two answers: asked again rather than guessed
        ("da", "Ikke tit", "1"),
        ("da", "Ikke særligt tit", "1"),
        ("da", "Ikke så forfærdelig tit", "1"),
        ("da", "Nej, ikke voldsomt ofte", "1"),
        ("da", "Jeg føler mig ikke holdt udenfor så tit", "1"),
        ("da", "Ikke altid", None),
        ("da", "Ikke hver dag", None),
        ("da", "Nej, ikke hele tiden", None),
        ("en", "Often", "3"),
        ("en", "Yes, a lot", "3"),
        ("en", "Some of the time", "2"),
        ("en", "Now and then", "2"),
        ("en", "Hardly ever", "1"),
        ("en", "Not very often", "1"),
        ("en", "No, not really", "1"),
        ("en", "No", None),
        ("en", "I don't feel left out often", "1"),
        ("en", "Not every day", None),
    ],
)
def test_answers_are_heard_as_the_scale_scores_them(language: str, said: str, score: str | None) -> None:
    mind = make_mind(language)
    rules = mind.rules
    now = datetime(2026, 3, 2, 9, 0, tzinfo=COPENHAGEN)
    assert answer_of(read(said, rules.language, rules.index, [], now)) == score
