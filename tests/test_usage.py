"""Usage for evaluation: nothing without a "ja", a "nej" deletes, only the fixed measures are counted,
old days fold into weeks, and reminders are counted once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from companion.events import ReplyDone, StageError, Transcript
from companion.mind.replies import act
from companion.reminders.book import ReminderBook
from companion.store.database import Database, writing
from companion.store.schema import DEVICE_HOUSEHOLD, occurrences, usage_days
from companion.usage.keeper import UsageKeeper
from companion.usage.observer import UsageObserver
from companion.usage.store import add, consent_of, count_rows, decide, fold_old_days, weekly_counts

from clocks import utc

MONDAY = date(2026, 3, 2)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with Database(tmp_path) as opened:
        yield opened


def _days(database: Database) -> dict[tuple[str, str, str], int]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(usage_days.c.day, usage_days.c.measure, usage_days.c.detail, usage_days.c.count)
        ).all()
    return {(day, measure, detail): count for day, measure, detail, count in rows}


def test_nothing_is_counted_without_a_yes_and_a_no_deletes_what_was(database: Database) -> None:
    engine = database.engine
    assert consent_of(engine, DEVICE_HOUSEHOLD) is None
    assert not add(engine, DEVICE_HOUSEHOLD, MONDAY, {("turns", ""): 1})
    decide(engine, DEVICE_HOUSEHOLD, True, MONDAY)
    assert not add(engine, DEVICE_HOUSEHOLD, MONDAY - timedelta(days=1), {("turns", ""): 1})  # before the yes
    assert add(engine, DEVICE_HOUSEHOLD, MONDAY, {("turns", ""): 2, ("helpline_given", ""): 1})
    assert add(engine, DEVICE_HOUSEHOLD, MONDAY, {("turns", ""): 3})
    assert _days(database) == {("2026-03-02", "turns", ""): 5, ("2026-03-02", "helpline_given", ""): 1}
    first = consent_of(engine, DEVICE_HOUSEHOLD)
    assert first is not None and first.counted and len(first.pseudonym) == 16

    decide(engine, DEVICE_HOUSEHOLD, False, MONDAY + timedelta(days=3))
    assert count_rows(engine, DEVICE_HOUSEHOLD) == 0
    assert not add(engine, DEVICE_HOUSEHOLD, MONDAY + timedelta(days=3), {("turns", ""): 1})
    decide(engine, DEVICE_HOUSEHOLD, True, MONDAY + timedelta(days=4))
    again = consent_of(engine, DEVICE_HOUSEHOLD)
    assert again is not None and again.pseudonym != first.pseudonym  # never joined to the counts before


def test_words_and_names_cannot_become_a_measure(database: Database) -> None:
    decide(database.engine, DEVICE_HOUSEHOLD, True, MONDAY)
    with pytest.raises(ValueError, match="not a usage measure"):
        add(database.engine, DEVICE_HOUSEHOLD, MONDAY, {("suggestions_offered", "Anne"): 1})
    with pytest.raises(ValueError, match="not a usage measure"):
        add(database.engine, DEVICE_HOUSEHOLD, MONDAY, {("jeg er så ensom", ""): 1})


def test_the_observer_counts_acts_by_kind_never_their_targets(database: Database) -> None:
    decide(database.engine, DEVICE_HOUSEHOLD, True, MONDAY)
    now = [utc("2026-03-02T10:00")]
    kinds = {"besoegsven": "volunteer", "laesegruppe-valby": "group"}
    observer = UsageObserver(database.engine, DEVICE_HOUSEHOLD, lambda: now[0], kinds.get)
    turns = [
        (act("group_suggested", "besoegsven"),),
        (act("suggestion_accepted"),),
        (act("relative_suggested", "Anne"),),
        (act("suggestion_declined"),),
        (act("attended", "yes"), act("group_suggested", "laesegruppe-valby")),
        (act("attended", "no"), act("helpline"), act("no_nudge")),
    ]
    for acts in turns:
        observer(Transcript("jeg hedder Inger", "da"))
        observer(ReplyDone(acts))
        now[0] += timedelta(minutes=1)
    observer(ReplyDone((act("reminder_said"),)))  # the device speaking on its own: no turn
    observer(Transcript("", "da"))  # nothing heard: no turn
    observer(StageError("stt", "stt", "the recogniser failed on 'jeg hedder Inger'"))
    now[0] += timedelta(minutes=30)  # a new conversation: the first one is counted, by its length
    observer(Transcript("hej", "da"))
    observer.close()
    day = "2026-03-02"
    assert _days(database) == {
        (day, "turns", ""): 7,
        (day, "suggestions_offered", "volunteer"): 1,
        (day, "suggestions_accepted", "volunteer"): 1,
        (day, "suggestions_offered", "relative"): 1,
        (day, "suggestions_declined", "relative"): 1,
        (day, "suggestions_offered", "group"): 1,
        (day, "sessions_attended", ""): 1,
        (day, "helpline_given", ""): 1,
        (day, "errors", "stt"): 1,
        (day, "conversations", "4-7"): 1,
        (day, "conversations", "1"): 1,
    }


def test_reminders_are_counted_once_when_done_with_and_minutes_as_they_pass(database: Database) -> None:
    engine = database.engine
    decide(engine, DEVICE_HOUSEHOLD, True, MONDAY)
    book = ReminderBook(engine, lambda: utc("2026-03-01T09:00"))
    made = book.create("Kaffe", "2026-03-02T10:00", rrule="FREQ=DAILY")
    spoken = utc("2026-03-02T10:00")
    rows = [
        {"due_at": "2026-03-02T10:00", "state": "acknowledged", "attempts": 1},
        {"due_at": "2026-03-03T10:00", "state": "missed", "attempts": 3},
        {"due_at": "2026-03-04T10:00", "state": "missed", "attempts": 0},  # the device was off: never said
        {"due_at": "2026-03-05T10:00", "state": "delivered", "attempts": 1},  # not done with yet
    ]
    with writing(engine) as connection:
        for n, row in enumerate(rows):
            at = spoken + timedelta(days=n)
            connection.execute(
                insert(occurrences).values(
                    reminder_id=made.id, lead="at", speak_utc=at, last_attempt_utc=at, updated_utc=at, **row
                )
            )
    microphone = [True]
    keeper = UsageKeeper(engine, DEVICE_HOUSEHOLD, lambda: microphone[0], keep_days=90)
    now = utc("2026-03-06T12:00")
    for _round in range(20):  # 10 minutes of rounds, 30 s apart, the microphone gone for the last 5
        keeper(now)
        now += timedelta(seconds=30)
        microphone[0] = _round < 10
    keeper.write(now)
    keeper.write(now + timedelta(hours=1))  # again: nothing is counted twice
    counted = _days(database)
    assert counted[("2026-03-02", "reminders_acknowledged", "")] == 1
    assert counted[("2026-03-03", "reminders_missed", "")] == 1
    assert counted[("2026-03-04", "reminders_missed", "")] == 1
    delivered = {day: n for (day, measure, _d), n in counted.items() if measure == "reminders_delivered"}
    assert delivered == {"2026-03-02": 1, "2026-03-03": 1}
    assert counted[("2026-03-06", "uptime_minutes", "")] == 9  # whole minutes only; the rest waits
    assert counted[("2026-03-06", "microphone_missing_minutes", "")] == 4


def test_days_past_the_retention_fold_into_weeks_with_the_same_totals(database: Database) -> None:
    engine = database.engine
    decide(engine, DEVICE_HOUSEHOLD, True, date(2026, 1, 1))
    for offset in range(60):
        add(engine, DEVICE_HOUSEHOLD, date(2026, 1, 1) + timedelta(days=offset), {("turns", ""): 2})
    weeks = [f"2026-W{n:02d}" for n in range(1, 10)]
    before = weekly_counts(engine, DEVICE_HOUSEHOLD, weeks)
    folded = fold_old_days(engine, date(2026, 3, 1), keep_days=30)
    assert folded > 20
    assert weekly_counts(engine, DEVICE_HOUSEHOLD, weeks) == before
    oldest_day = min(day for day, _m, _d in _days(database))
    assert oldest_day >= "2026-01-26"  # a whole week stays as days until all of it is past the retention
    assert sum(cells[("turns", "")] for cells in before.values() if cells) == 120


def test_the_person_says_yes_and_later_takes_it_back_by_voice(database: Database) -> None:
    from companion.mind.consent import request_question

    from minds import Clock, make_mind, say

    mind = make_mind(clock=Clock())
    engine = mind.rules.agenda.book.engine
    reply, outcomes = say(mind, "Godmorgen.")
    assert "Må jeg tælle" not in reply  # nobody asked for the question: it is not put
    request_question(engine, datetime(2026, 3, 2, 8, 0))
    mind.end_conversation()
    reply, outcomes = say(mind, "Godmorgen.")
    assert "Må jeg tælle, hvor tit vi snakker sammen?" in reply and "consent_asked" in outcomes
    reply, outcomes = say(mind, "Ja, det må du gerne.")
    assert "consent_given" in outcomes and consent_of(engine, DEVICE_HOUSEHOLD) is not None
    decide_day = consent_of(engine, DEVICE_HOUSEHOLD)
    assert decide_day is not None and decide_day.counted
    add(engine, DEVICE_HOUSEHOLD, MONDAY, {("turns", ""): 4})
    reply, outcomes = say(mind, "Du må ikke tælle mere.")
    assert "consent_refused" in outcomes and "slettet" in reply
    assert count_rows(engine, DEVICE_HOUSEHOLD) == 0
    reply, outcomes = say(mind, "Du må gerne tælle igen.")
    assert "consent_given" in outcomes


def test_a_reminder_marked_missed_in_the_round_the_keeper_counts_is_counted_next_time(
    database: Database,
) -> None:
    engine = database.engine
    decide(engine, DEVICE_HOUSEHOLD, True, MONDAY)
    made = ReminderBook(engine, lambda: utc("2026-03-01T09:00")).create("Kaffe", "2026-03-02T10:00")
    keeper = UsageKeeper(engine, DEVICE_HOUSEHOLD, lambda: True, keep_days=90)
    round_at = utc("2026-03-02T12:00")
    keeper.write(round_at)  # the chore runs first in a round …
    with writing(engine) as connection:  # … then the scheduler marks what the device missed, at that `now`
        connection.execute(
            insert(occurrences).values(
                reminder_id=made.id,
                due_at="2026-03-02T10:00",
                lead="at",
                speak_utc=utc("2026-03-02T10:00"),
                state="missed",
                attempts=0,
                updated_utc=round_at,
            )
        )
    keeper.write(round_at + timedelta(seconds=30))
    keeper.write(round_at + timedelta(seconds=60))
    assert _days(database)[("2026-03-02", "reminders_missed", "")] == 1
