"""Finding the time in what was said: Danish idioms first, English second, and the calendar's traps."""

from __future__ import annotations

import subprocess
import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.errors import SettingsError
from companion.mind.when import TimeFound, TimeProblem, TimeWords, find_time, load_time_words, say_time

DIALOGS = Path(__file__).parents[1] / "dialogs"
TZ = ZoneInfo("Europe/Copenhagen")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # Monday 2 March 2026, 09.00


def words(language: str) -> TimeWords:
    return load_time_words(DIALOGS, language)


def found(text: str, language: str = "da", now: datetime = MONDAY) -> TimeFound:
    result = find_time(text, now, words(language))
    assert isinstance(result, TimeFound), f"{text!r} gave {result!r}"
    assert result.at.tzinfo is TZ and result.at.second == 0 and result.at.microsecond == 0
    return result


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


DANISH = [
    ("i morgen klokken ti", at(3, 3, 10)),
    ("i morgen kl. 10", at(3, 3, 10)),
    ("i morgen kl 10", at(3, 3, 10)),
    ("imorgen klokken 10", at(3, 3, 10)),
    ("I MORGEN KLOKKEN TI", at(3, 3, 10)),
    ("i morgen klok ken ti", at(3, 3, 10)),
    ("på torsdag klokken 13", at(3, 5, 13)),
    ("torsdag kl. 13.30", at(3, 5, 13, 30)),
    ("torsdag kl 13,30", at(3, 5, 13, 30)),
    ("torsdag klokken 13:30", at(3, 5, 13, 30)),
    ("om en time", at(3, 2, 10)),
    ("om to timer", at(3, 2, 11)),
    ("om en halv time", at(3, 2, 9, 30)),
    ("om halvanden time", at(3, 2, 10, 30)),
    ("om to en halv time", at(3, 2, 11, 30)),
    ("om 20 minutter", at(3, 2, 9, 20)),
    ("om tyve minutter", at(3, 2, 9, 20)),
    ("om et kvarter", at(3, 2, 9, 15)),
    ("om tre kvarter", at(3, 2, 9, 45)),
    ("om en uge", at(3, 9, 9)),
    ("om to dage", at(3, 4, 9)),
    ("halv tre", at(3, 2, 14, 30)),
    ("klokken halv tre", at(3, 2, 14, 30)),
    ("kvart over ti", at(3, 2, 10, 15)),
    ("kvart i elleve", at(3, 2, 10, 45)),
    ("fem minutter over halv fire", at(3, 2, 15, 35)),
    ("ti minutter i tolv", at(3, 2, 11, 50)),
    ("i morgen tidlig", at(3, 3, 8)),
    ("i morgen tidlig klokken syv", at(3, 3, 7)),
    ("i aften", at(3, 2, 19)),
    ("klokken otte i aften", at(3, 2, 20)),
    ("i aften klokken syv", at(3, 2, 19)),
    ("i eftermiddag", at(3, 2, 15)),
    ("i formiddag", at(3, 2, 10)),
    ("torsdag aften", at(3, 5, 19)),
    ("i morgen eftermiddag klokken tre", at(3, 3, 15)),
    ("på søndag", at(3, 8, 10)),
    ("på mandag", at(3, 9, 10)),
    ("næste tirsdag", at(3, 10, 10)),
    ("på tirsdag", at(3, 3, 10)),
    ("i overmorgen", at(3, 4, 10)),
    ("den 3. november", at(11, 3, 10)),
    ("den 3. november klokken 10", at(11, 3, 10)),
    ("d. 3. nov. kl. 14", at(11, 3, 14)),
    ("den 3 november 2027", at(11, 3, 10, year=2027)),
    ("den 2. marts klokken 15", at(3, 2, 15)),
    ("klokken 13", at(3, 2, 13)),
    ("klokken ti", at(3, 2, 10)),
    ("klokken otte", at(3, 2, 20)),
    ("klokken to", at(3, 2, 14)),
    ("klokken ti tredive", at(3, 2, 10, 30)),
    ("kl. 7 i morgen", at(3, 3, 7)),
    ("i morgen klokken to", at(3, 3, 14)),
    ("i dag klokken 10", at(3, 2, 10)),
]

ENGLISH = [
    ("tomorrow at 11", at(3, 3, 11)),
    ("tomorrow at 11 am", at(3, 3, 11)),
    ("tomorrow at eleven o'clock", at(3, 3, 11)),
    ("at 3 pm", at(3, 2, 15)),
    ("at 3:30 p.m.", at(3, 2, 15, 30)),
    ("on Thursday at 1 pm", at(3, 5, 13)),
    ("in an hour", at(3, 2, 10)),
    ("in two hours", at(3, 2, 11)),
    ("in 20 minutes", at(3, 2, 9, 20)),
    ("in half an hour", at(3, 2, 9, 30)),
    ("in an hour and a half", at(3, 2, 10, 30)),
    ("in a week", at(3, 9, 9)),
    ("half past two", at(3, 2, 14, 30)),
    ("quarter to eleven", at(3, 2, 10, 45)),
    ("ten past three", at(3, 2, 15, 10)),
    ("tonight", at(3, 2, 19)),
    ("this evening", at(3, 2, 19)),
    ("tomorrow morning", at(3, 3, 8)),
    ("tomorrow morning at 7", at(3, 3, 7)),
    ("tomorrow night at 8", at(3, 3, 20)),
    ("next Tuesday", at(3, 10, 10)),
    ("on November 3rd", at(11, 3, 10)),
    ("3 November", at(11, 3, 10)),
    ("the 3rd of November at 2 pm", at(11, 3, 14)),
    ("3 March 2027", at(3, 3, 10, year=2027)),
    ("at noon", at(3, 2, 12)),
]


@pytest.mark.parametrize(("text", "expected"), DANISH)
def test_danish(text: str, expected: datetime) -> None:
    result = found(text)
    assert result.at == expected
    assert (result.start, result.end) == (0, len(text))


@pytest.mark.parametrize(("text", "expected"), ENGLISH)
def test_english(text: str, expected: datetime) -> None:
    result = found(text, "en")
    assert result.at == expected
    assert (result.start, result.end) == (0, len(text))


@pytest.mark.parametrize(
    ("language", "sentence", "expression", "expected"),
    [
        ("da", "Mind mig om at ringe til Anne i morgen klokken ti.", "i morgen klokken ti", at(3, 3, 10)),
        (
            "da",
            "Husk tandlægen den 14. april klokken halv elleve",
            "den 14. april klokken halv elleve",
            at(4, 14, 10, 30),
        ),
        ("da", "mind mig om kaffen om et kvarter tak", "om et kvarter", at(3, 2, 9, 15)),
        ("da", "God morgen. Mind mig om pillerne klokken otte i aften", "klokken otte i aften", at(3, 2, 20)),
        ("en", "Remind me to call Anne tomorrow at 11.", "tomorrow at 11", at(3, 3, 11)),
        (
            "en",
            "remind me to water the plants on thursday at 1 pm please",
            "on thursday at 1 pm",
            at(3, 5, 13),
        ),
    ],
)
def test_the_expression_is_cut_out_of_a_sentence(
    language: str, sentence: str, expression: str, expected: datetime
) -> None:
    result = found(sentence, language)
    assert sentence[result.start : result.end] == expression
    assert result.at == expected


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("da", "Hvordan har du det?"),
        ("da", "God morgen"),
        ("da", "Hvad er klokken?"),
        ("da", "Jeg skal købe to liter mælk"),
        ("da", "Ring til 10 personer"),
        ("da", "Stigen er en over to meter"),
        ("da", "god nat"),
        ("en", "how are you"),
        ("en", "good morning"),
        ("en", "buy 3 apples"),
    ],
)
def test_no_time_said(language: str, text: str) -> None:
    assert find_time(text, MONDAY, words(language)) is None


@pytest.mark.parametrize(
    ("text", "now", "reason"),
    [
        ("den 30. februar", MONDAY, "no_such_date"),
        ("den 31. april klokken 10", MONDAY, "no_such_date"),
        ("i dag klokken 8", MONDAY, "in_the_past"),
        ("klokken otte i aften", datetime(2026, 3, 2, 21, 0, tzinfo=TZ), "in_the_past"),
        ("i formiddag", datetime(2026, 3, 2, 13, 0, tzinfo=TZ), "in_the_past"),
        ("den 3. november 2025", MONDAY, "in_the_past"),
        ("den 2. marts klokken 8", MONDAY, "in_the_past"),
        ("i morgen klokken halv tre om natten", datetime(2026, 3, 28, 12, 0, tzinfo=TZ), "dst_gap"),
        ("klokken 2.30 i nat", datetime(2026, 3, 28, 12, 0, tzinfo=TZ), "dst_gap"),
        ("klokken 02.30", datetime(2026, 3, 28, 12, 0, tzinfo=TZ), "dst_gap"),
        ("i morgen klokken 02.30", datetime(2026, 3, 28, 12, 0, tzinfo=TZ), "dst_gap"),
    ],
)
def test_problems(
    text: str, now: datetime, reason: Literal["no_such_date", "dst_gap", "in_the_past"]
) -> None:
    assert find_time(text, now, words("da")) == TimeProblem(reason, 0, len(text))


def test_english_problems() -> None:
    assert find_time("on February 30th", MONDAY, words("en")) == TimeProblem("no_such_date", 0, 16)
    assert find_time("today at 8 am", MONDAY, words("en")) == TimeProblem("in_the_past", 0, 13)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("i formiddag", datetime(2026, 3, 2, 11, 0, tzinfo=TZ), at(3, 2, 11, 15)),  # not over yet
        ("i aften", datetime(2026, 3, 2, 20, 35, tzinfo=TZ), at(3, 2, 20, 45)),
        ("i nat klokken 3", datetime(2026, 3, 3, 1, 0, tzinfo=TZ), at(3, 3, 3)),  # the night already begun
        ("klokken 2.30 i nat", MONDAY, at(3, 3, 2, 30)),
        (
            "klokken 13",
            datetime(2026, 3, 2, 14, 0, tzinfo=TZ),
            at(3, 3, 13),
        ),  # alone, a passed time is tomorrow's
        ("klokken ni", datetime(2026, 3, 2, 22, 0, tzinfo=TZ), at(3, 3, 9)),
        ("klokken 8 om morgenen", MONDAY, at(3, 3, 8)),
        (
            "i morgen klokken 3 om natten",
            datetime(2026, 3, 28, 12, 0, tzinfo=TZ),
            at(3, 29, 3),
        ),  # after the gap
        ("i morgen klokken 2.30", datetime(2026, 3, 28, 12, 0, tzinfo=TZ), at(3, 29, 14, 30)),
    ],
)
def test_resolution_rules(text: str, now: datetime, expected: datetime) -> None:
    assert found(text, now=now).at == expected


def test_the_repeated_autumn_hour_is_the_first() -> None:
    result = found("i morgen klokken 02.30", now=datetime(2026, 10, 24, 12, 0, tzinfo=TZ))
    assert result.at == at(10, 25, 2, 30) and result.at.fold == 0
    assert result.at.utcoffset() == timedelta(hours=2)


def test_a_duration_is_real_time_across_the_autumn_change() -> None:
    now = datetime(2026, 10, 25, 2, 50, tzinfo=TZ)  # the first 02.50, summer time
    result = found("om 20 minutter", now=now)
    assert result.at.astimezone(UTC) - now.astimezone(UTC) == timedelta(minutes=20)
    assert (result.at.hour, result.at.minute, result.at.fold) == (2, 10, 1)


def test_in_a_week_keeps_the_time_of_day_across_the_spring_change() -> None:
    assert found("om en uge", now=datetime(2026, 3, 27, 9, 0, tzinfo=TZ)).at == at(4, 3, 9)


def test_now_given_in_another_zone_is_converted() -> None:
    assert found("om en time", now=MONDAY.astimezone(UTC)).at == at(3, 2, 10)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        find_time("om en time", datetime(2026, 3, 2, 9, 0), words("da"))
    with pytest.raises(ValueError, match="aware"):
        say_time(datetime(2026, 3, 2, 10, 0), MONDAY, words("da"))


@pytest.mark.parametrize(
    ("language", "when", "spoken"),
    [
        ("da", at(3, 2, 14), "i dag klokken 14"),
        ("da", at(3, 3, 10), "i morgen klokken 10"),
        ("da", at(3, 3, 10, 30), "i morgen klokken 10.30"),
        ("da", at(3, 5, 13), "på torsdag klokken 13"),
        ("da", at(11, 3, 10), "den 3. november klokken 10"),
        ("da", at(1, 5, 9, 5, year=2027), "den 5. januar 2027 klokken 9.05"),
        ("en", at(3, 2, 14), "today at 2 pm"),
        ("en", at(3, 3, 11), "tomorrow at 11 am"),
        ("en", at(3, 5, 13, 30), "on Thursday at 1:30 pm"),
        ("en", at(3, 3, 0, 15), "tomorrow at 12:15 am"),
        ("en", at(11, 3, 10), "on November 3 at 10 am"),
    ],
)
def test_say_time(language: str, when: datetime, spoken: str) -> None:
    assert say_time(when, MONDAY, words(language)) == spoken


def test_what_is_said_back_is_understood_again() -> None:
    for text, _ in DANISH:
        result = find_time(text, MONDAY, words("da"))
        if isinstance(result, TimeFound):
            spoken = say_time(result.at, MONDAY, words("da"))
            assert found(spoken).at == result.at, spoken


def test_words_are_loaded_once_per_language() -> None:
    assert words("da") is words("da")
    assert words("da") is not words("en")


def write_time_toml(tmp_path: Path, old: str, new: str) -> Path:
    (tmp_path / "da").mkdir()
    text = (DIALOGS / "da" / "time.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "da" / "time.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("latest = 21", "", r"time\.toml: 'defaults\.latest' is missing"),
        ("ti = 10", 'ti = "ti"', r"'numbers' must hold a whole number"),
        ('on = ["på"]', 'on = "på"', r"'weekdays\.on' must be a list"),
        ('    ["søndag", "soendag"],\n', "", r"'weekdays\.names' must hold 7 lists"),
        ('today = "i dag klokken {time}"', 'today = "i dag klokken {tid}"', r"'say\.today' uses an unknown"),
        ("[parts.aften]\nhour = 19", "[parts.aften]\nhour = 19\nhour = 20", r"not valid TOML"),
    ],
)
def test_a_bad_time_toml_names_the_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    dialogs = write_time_toml(tmp_path, old, new)
    with pytest.raises(SettingsError, match=message) as caught:
        load_time_words(dialogs, "da")
    assert "time.toml" in str(caught.value) and caught.value.fix


def test_a_missing_time_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"time\.toml is missing"):
        load_time_words(tmp_path, "da")


def test_a_coordinator_can_add_a_word(tmp_path: Path) -> None:
    dialogs = write_time_toml(
        tmp_path, 'words = ["aften", "om aftenen"]', 'words = ["aften", "om aftenen", "til aften"]'
    )
    assert find_time("i morgen til aften", MONDAY, load_time_words(dialogs, "da")) == TimeFound(
        at(3, 3, 19), 0, 18
    )


def test_dateparser_is_not_imported_at_start_up() -> None:
    code = "import sys, companion.mind.when; print('dateparser' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        == "False\n"
    )


def test_a_call_is_quick() -> None:
    sentence, danish = (
        "Mind mig om at ringe til Anne i morgen klokken halv tre om eftermiddagen.",
        words("da"),
    )
    seconds = min(timeit.repeat(lambda: find_time(sentence, MONDAY, danish), number=200, repeat=3)) / 200
    assert seconds < 0.005


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.just(TZ),
        allow_imaginary=False,
    ),
    minutes=st.integers(min_value=1, max_value=600),
    word=st.booleans(),
)
def test_in_n_minutes_is_n_real_minutes_ahead(now: datetime, minutes: int, word: bool) -> None:
    number = {20: "tyve", 15: "femten", 5: "fem"}.get(minutes, str(minutes)) if word else str(minutes)
    result = find_time(f"mind mig om det om {number} minutter", now, words("da"))
    assert isinstance(result, TimeFound)
    assert result.at.tzinfo is TZ and result.at.second == 0 and result.at.microsecond == 0
    exact = now.astimezone(UTC) + timedelta(minutes=minutes)
    assert result.at.astimezone(UTC) == exact.replace(second=0, microsecond=0)
    assert result.at.astimezone(UTC) > now.astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.just(TZ),
        allow_imaginary=False,
    ),
    hour=st.integers(min_value=0, max_value=23),
)
def test_tomorrow_at_an_hour_is_tomorrow_at_that_hour(now: datetime, hour: int) -> None:
    result = find_time(f"i morgen klokken {hour}", now, words("da"))
    assert isinstance(result, TimeFound)  # 1-6 mean the afternoon, so no hour falls in the spring gap
    meant = hour + 12 if 1 <= hour <= 6 else hour
    assert result.at.date() == now.date() + timedelta(days=1)
    assert (result.at.hour, result.at.minute, result.at.second) == (meant, 0, 0)
    assert result.at.tzinfo is TZ and result.at.fold == 0
    assert result.at.astimezone(UTC) > now.astimezone(UTC)
    assert find_time(say_time(result.at, now, words("da")), now, words("da")) == TimeFound(
        result.at, 0, len(say_time(result.at, now, words("da")))
    )


DANISH_TOKENS = (
    "i morgen dag aften nat klokken kl. kl halv tre to et en over kvart om timer minutter kvarter den 3. 30."
)
DANISH_TOKENS += (
    " februar november næste på tirsdag søndag tidlig om natten 13.30 02.30 10 , . fem tyve ti otte og"
)
ENGLISH_TOKENS = (
    "tomorrow today at in an a half hour hours minutes past to quarter half two eleven 3 11 pm am on"
)
ENGLISH_TOKENS += " the of 3rd november thursday next tonight morning night at noon o'clock , ."


@settings(max_examples=500, deadline=None)
@given(
    language=st.sampled_from(["da", "en"]),
    picks=st.lists(st.integers(min_value=0, max_value=200), max_size=9),
    now=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.just(TZ),
        allow_imaginary=False,
    ),
)
def test_any_mix_of_its_own_words_gives_a_sane_answer(language: str, picks: list[int], now: datetime) -> None:
    tokens = (DANISH_TOKENS if language == "da" else ENGLISH_TOKENS).split()
    text = " ".join(tokens[pick % len(tokens)] for pick in picks)
    result = find_time(text, now, words(language))
    if result is not None:
        assert 0 <= result.start < result.end <= len(text)
        assert text[result.start].strip() and text[result.end - 1].strip()
    if isinstance(result, TimeFound):
        assert result.at.tzinfo is TZ and result.at.second == 0
        assert result.at.astimezone(UTC) > now.astimezone(UTC)
