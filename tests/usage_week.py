"""A simulated week of use in many households: scripted conversations through the real policy, counted
by the real usage observer, reminders heard or missed counted by the real keeper; each household's
exported summary, as a municipality would collect them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from companion.events import ReplyDone, Transcript
from companion.mind.catalogue import COPENHAGEN
from companion.mind.consent import UsageConsent
from companion.mind.policy import Mind
from companion.store.database import writing
from companion.store.schema import DEVICE_HOUSEHOLD, occurrences
from companion.usage.keeper import UsageKeeper
from companion.usage.observer import UsageObserver
from companion.usage.summary import device_summary

from minds import Clock, make_mind

WEEK = "2026-W10"
CONVERSATIONS = [
    ["Godmorgen.", "Jeg keder mig lidt i dag.", "Ja, det vil jeg gerne."],
    ["Hej.", "Jeg føler mig ensom.", "Nej tak, ikke i dag."],
    ["Godmorgen.", "Jeg var til læsegruppen i går.", "Tak for snakken."],
    ["Hvad skal jeg i dag?"],
    ["Jeg savner min datter.", "Ja tak."],
]
SET_UP = datetime(2025, 12, 8, 10, 0, tzinfo=COPENHAGEN)
"""In the quarter before the simulated week: a report of week 10 shows the last ended quarter's scores."""
SCALE_ANSWERS = (("En gang imellem", "En gang imellem", "Næsten aldrig"), ("Ofte", "Af og til", "Ofte"))
"""The loneliness questions' answers in every other household: scores 5 and 8."""


def simulate_week(households: int = 12, seed: int = 0) -> list[dict[str, Any]]:
    """Each household's exported summary after Monday to Sunday of week 10 of 2026."""
    summaries = []
    for household in range(households):
        clock = Clock()
        monday = clock.now
        clock.now = SET_UP  # the coordinator's visit: counting allowed, and the loneliness questions
        mind = make_mind(clock=clock)
        engine = mind.rules.agenda.book.engine
        UsageConsent(engine, mind.phrases).grant(clock())
        observer = UsageObserver(engine, DEVICE_HOUSEHOLD, _utc_of(clock), _kind_of(mind))
        _converse(mind, observer, clock, ["Godmorgen.", "Ja.", *SCALE_ANSWERS[household % 2]])
        clock.now = monday
        for day in range(7):
            talks = (household + day + seed) % 4  # some days quiet, some busy: not every cell is large
            for talk in range(talks):
                _converse(
                    mind, observer, clock, CONVERSATIONS[(household * 3 + day + talk) % len(CONVERSATIONS)]
                )
                clock.now += timedelta(hours=2)
            clock.now += timedelta(days=1) - timedelta(hours=2 * talks) - timedelta(minutes=2 * talks)
        observer.close()
        _reminders(engine, mind, household)
        summaries.append(device_summary(engine, DEVICE_HOUSEHOLD, [WEEK]))
    return summaries


def _converse(mind: Mind, observer: UsageObserver, clock: Clock, sentences: list[str]) -> None:
    """One conversation, a sentence every two minutes."""
    mind.end_conversation()
    for sentence in sentences:
        observer(Transcript(sentence, "da"))
        for event in mind.respond(Transcript(sentence, "da")):
            if isinstance(event, ReplyDone):
                observer(event)
        clock.now += timedelta(minutes=2)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc_of(clock: Clock) -> Callable[[], datetime]:
    return lambda: _utc(clock())


def _kind_of(mind: Mind) -> Callable[[str], str | None]:
    def kind(group_id: str) -> str | None:
        found = mind.rules.catalogue.group(group_id)
        return found.kind if found is not None else None

    return kind


def _reminders(engine: Engine, mind: Mind, household: int) -> None:
    """A daily reminder: heard most days, missed on some."""
    book = mind.rules.agenda.book
    made = book.create("Tag medicinen", "2026-03-02T10:00", rrule="FREQ=DAILY")
    with writing(engine) as connection:
        for day in range(7):
            at = _utc(Clock().now) + timedelta(days=day, hours=1)
            state = "missed" if (household + day) % 5 == 0 else "acknowledged"
            connection.execute(
                insert(occurrences).values(
                    reminder_id=made.id,
                    due_at=f"2026-03-{2 + day:02d}T10:00",
                    lead="at",
                    speak_utc=at,
                    state=state,
                    attempts=1 if state == "acknowledged" else 3,
                    last_attempt_utc=at,
                    updated_utc=at,
                )
            )
    keeper = UsageKeeper(engine, DEVICE_HOUSEHOLD, lambda: True, keep_days=90)
    keeper.write(_utc(Clock().now) + timedelta(days=8))
