"""Wall times and instants across every daylight-saving change in Europe/Copenhagen, 2025–2030.

The spring gap (02:00 → 03:00) moves a reminder to the first valid minute after it; the autumn's repeated
hour speaks it once, at its first passing; a weekly 14:00 stays 14:00 on both sides.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import islice, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.mind.catalogue import COPENHAGEN
from companion.reminders.recurrence import Timing, expand, in_gap, instant, local, next_dues

NO_QUIET = Timing(quiet_start=time(0, 0), quiet_end=time(0, 0))


def transitions(first_year: int = 2025, last_year: int = 2030) -> list[datetime]:
    """Every instant (naive UTC) the Copenhagen offset changes, found by asking the time-zone database."""
    found = []
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(COPENHAGEN).utcoffset()
    while moment < end:
        moment += timedelta(hours=1)
        now_offset = moment.astimezone(COPENHAGEN).utcoffset()
        if now_offset != offset:
            found.append(moment.replace(tzinfo=None))
            offset = now_offset
    return found


TRANSITIONS = transitions()
SPRING = [t for t in TRANSITIONS if t.month == 3]
AUTUMN = [t for t in TRANSITIONS if t.month == 10]


def test_there_are_two_changes_a_year_at_01_utc() -> None:
    assert len(SPRING) == len(AUTUMN) == 6
    assert all(t.hour == 1 and t.weekday() == 6 for t in TRANSITIONS)


@settings(max_examples=300, deadline=None)
@given(change=st.sampled_from(TRANSITIONS), minutes=st.integers(-240, 240))
def test_a_valid_wall_time_round_trips_and_a_gap_time_moves_to_the_first_valid_minute(
    change: datetime, minutes: int
) -> None:
    wall = local(change).replace(minute=0) + timedelta(minutes=minutes)
    moment = instant(wall)
    if in_gap(wall):
        assert change.month == 3
        assert moment == change  # 03:00 local, the first minute after the gap
        assert local(moment) == wall.replace(hour=3, minute=0)
    else:
        assert local(moment) == wall
        if change.month == 10 and wall.hour == 2 and wall.date() == local(change).date():
            assert moment == wall - timedelta(hours=2)  # the first passing, still summer time


@settings(max_examples=300, deadline=None)
@given(
    change=st.sampled_from(TRANSITIONS),
    first=st.integers(-300, 300),
    second=st.integers(-300, 300),
)
def test_later_wall_times_are_never_earlier_instants(change: datetime, first: int, second: int) -> None:
    base = local(change).replace(minute=0)
    a, b = sorted((base + timedelta(minutes=first), base + timedelta(minutes=second)))
    assert instant(a) <= instant(b)


@settings(max_examples=200, deadline=None)
@given(change=st.sampled_from(TRANSITIONS), hour=st.integers(0, 4), minute=st.sampled_from([0, 15, 30, 59]))
def test_a_daily_reminder_in_the_night_of_a_change_is_spoken_exactly_once_that_night(
    change: datetime, hour: int, minute: int
) -> None:
    night = local(change).date()
    start = datetime.combine(night - timedelta(days=3), time(hour, minute))
    rule = expand("FREQ=DAILY", start)
    window_start = instant(datetime.combine(night - timedelta(days=1), time(12, 0)))
    dues = []
    for due in next_dues(rule, 1, window_start, for_group=False, urgent=False, timing=NO_QUIET):
        if due.speak_utc > window_start + timedelta(days=2):
            break
        dues.append(due)
    that_night = [d for d in dues if d.due_at.date() == night]
    assert len(that_night) == 1
    wall = datetime.combine(night, time(hour, minute))
    expected = instant(wall)
    assert that_night[0].speak_utc == expected
    if in_gap(wall):
        assert local(expected).time() == time(3, 0)
    # One speaking moment per day, strictly later each day.
    assert all(a.speak_utc < b.speak_utc for a, b in pairwise(dues))
    assert len({d.due_at for d in dues}) == len(dues)


@pytest.mark.parametrize("change", TRANSITIONS, ids=lambda t: t.date().isoformat())
def test_a_weekly_session_keeps_its_wall_time_on_both_sides_of_a_change(change: datetime) -> None:
    sunday = local(change).date()
    rule = expand("FREQ=WEEKLY", datetime.combine(sunday - timedelta(days=7), time(14, 0)))
    after = change - timedelta(days=8)
    dues = list(islice(next_dues(rule, 1, after, for_group=False, urgent=False, timing=NO_QUIET), 3))
    assert [local(d.speak_utc).time() for d in dues] == [time(14, 0)] * 3
    gaps = {dues[i + 1].speak_utc - dues[i].speak_utc for i in range(2)}
    # One of the weeks is an hour shorter or longer in real time: the wall time is what stays.
    assert timedelta(days=7) in gaps and len(gaps) == 2


def test_quiet_hours_hold_a_night_reminder_until_morning_and_an_urgent_one_is_not_held() -> None:
    timing = Timing()  # 22:00–07:00
    rule = expand(None, datetime(2026, 12, 3, 23, 30))
    after = datetime(2026, 12, 3, 12, 0)
    held = next(next_dues(rule, 1, after, for_group=False, urgent=False, timing=timing))
    urgent = next(next_dues(rule, 1, after, for_group=False, urgent=True, timing=timing))
    assert local(held.speak_utc) == datetime(2026, 12, 4, 7, 0)
    assert local(urgent.speak_utc) == datetime(2026, 12, 3, 23, 30)
    early = next(next_dues(expand(None, datetime(2026, 12, 4, 6, 10)), 2, after, False, False, timing))
    assert local(early.speak_utc) == datetime(2026, 12, 4, 7, 0)


def test_a_group_session_is_mentioned_in_the_morning_and_an_hour_before() -> None:
    rule = expand("FREQ=WEEKLY", datetime(2026, 12, 2, 14, 0))
    dues = next_dues(rule, 1, datetime(2026, 12, 1), for_group=True, urgent=False, timing=Timing())
    assert [(d.lead, local(d.speak_utc)) for d in islice(dues, 2)] == [
        ("morning", datetime(2026, 12, 2, 9, 0)),
        ("before", datetime(2026, 12, 2, 13, 0)),
    ]


def test_a_morning_session_is_only_mentioned_an_hour_before() -> None:
    rule = expand(None, datetime(2026, 12, 2, 9, 30))
    dues = list(next_dues(rule, 1, datetime(2026, 12, 1), for_group=True, urgent=False, timing=Timing()))
    assert [(d.lead, local(d.speak_utc)) for d in dues] == [("before", datetime(2026, 12, 2, 8, 30))]


def test_two_times_that_land_on_the_same_moment_are_spoken_once() -> None:
    # 02:00 and 03:00 on the night the clocks jump are both 03:00; 23:00 and 05:00 both wait until 07:00.
    gap_night = expand("FREQ=DAILY;BYHOUR=2,3", datetime(2026, 3, 28, 2, 0))
    dues = list(islice(next_dues(gap_night, 1, utc_of("2026-03-28T12:00"), False, True, NO_QUIET), 3))
    assert [local(d.speak_utc) for d in dues] == [
        datetime(2026, 3, 29, 3, 0),
        datetime(2026, 3, 30, 2, 0),
        datetime(2026, 3, 30, 3, 0),
    ]
    nights = expand("FREQ=DAILY;BYHOUR=5,23", datetime(2026, 12, 1, 5, 0))
    held = list(islice(next_dues(nights, 1, utc_of("2026-12-01T12:00"), False, False, Timing()), 2))
    assert [local(d.speak_utc) for d in held] == [datetime(2026, 12, 2, 7, 0), datetime(2026, 12, 3, 7, 0)]


def utc_of(wall: str) -> datetime:
    return instant(datetime.fromisoformat(wall))
