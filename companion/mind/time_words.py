"""The words of dialogs/<lang>/time.toml, checked once when they are read.

Coordinators, not programmers, add words to time.toml, so a mistake in it has to be reported by file and
key at start-up rather than surface later as a time that is silently not understood. Reading is kept
apart from the grammar in when.py, which only ever asks for a list or a table by its key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from companion.errors import SettingsError

_T = TypeVar("_T")
_SAY_KEYS = ("today", "tomorrow", "weekday", "date", "date_with_year", "whole_hour", "with_minutes")

# Every word list and number table of time.toml, by key; the patterns and the readers use them by key.
_LISTS: tuple[str, ...] = ("clock.words", "clock.am", "clock.pm", "clock.endings", "clock.half_before")
_LISTS += ("clock.past", "clock.to", "clock.minute_words", "relative.words", "relative.and_half")
_LISTS += ("weekdays.on", "weekdays.next", "months.before", "months.day_endings", "months.of")
_TABLES = (
    "numbers",
    "days",
    "clock.amounts",
    "clock.named",
    "relative.units",
    "relative.amounts",
    "ordinals",
    "holidays",
)


@dataclass(frozen=True)
class DayPart:
    hour: int  # meant when no clock time is said
    start: int  # the hours it covers, [start, end); an end past 24 runs into the next day
    end: int


@dataclass(frozen=True)
class TimeWords:
    language: str
    lists: Mapping[str, tuple[str, ...]]  # "clock.words" -> ("klokken", "kl", ...): every word list
    tables: Mapping[str, Mapping[str, float]]  # "numbers" -> {"ti": 10, ...}: every word-to-number table
    parts: Mapping[str, tuple[DayPart, bool]]  # phrase -> (part, whether the phrase itself means today)
    spoken_weekdays: tuple[str, ...]
    spoken_months: tuple[str, ...]
    say: Mapping[str, str]
    default_hour: int
    latest_hour: int
    afternoon_below: int
    # The compiled grammar, added by when.load_time_words; each reader returns when.py's own piece type.
    patterns: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], TimeWords], Any]], ...] = field(
        default=(), repr=False, compare=False
    )


def word_key(text: str) -> str:
    """The form a phrase is looked up by: lower case, one space between words ("I-morgen" is "i morgen")."""
    return " ".join(re.split(r"[\s\-]+", text.strip().lower()))


class _Toml:
    """One time.toml; every lookup names the file and the key when something is wrong."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise SettingsError(f"The dialog file {path} is missing.", "Restore it from git.") from error
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{path} is not valid TOML: {error}", "Correct the line it names.") from error

    def fail(self, key: str, should: str) -> SettingsError:
        return SettingsError(f"{self.path}: '{key}' {should}.", "dialogs/da/time.toml shows every key.")

    def get(self, key: str, kind: type[_T]) -> _T:
        node: Any = self.raw
        for name in key.split("."):
            if not isinstance(node, dict) or name not in node:
                raise self.fail(key, "is missing")
            node = node[name]
        if not isinstance(node, kind) or (isinstance(node, bool) and kind is not bool):
            raise self.fail(key, f"must be a {kind.__name__}")
        return node

    def words(self, key: str, found: object = None) -> tuple[str, ...]:
        found = self.get(key, list) if found is None else found
        if not isinstance(found, list) or not all(isinstance(word, str) and word.strip() for word in found):
            raise self.fail(key, "must be a list of words")
        return tuple(word.strip() for word in found)

    def numbers(self, key: str) -> dict[str, float]:
        table = {word_key(word): value for word, value in self.get(key, dict).items()}
        kinds = (int, float) if key == "relative.amounts" else (int,)  # only "en halv" time is a fraction
        if not all(isinstance(value, kinds) and not isinstance(value, bool) for value in table.values()):
            raise self.fail(key, "must hold a whole number for every word")
        return table

    def spellings(self, key: str, count: int) -> tuple[tuple[str, ...], ...]:
        lists = self.get(key, list)
        if len(lists) != count:
            raise self.fail(key, f"must hold {count} lists of words")
        return tuple(self.words(key, item) for item in lists)


def read_time_words(dialogs: Path, language: str) -> tuple[TimeWords, bool]:
    """The words of dialogs/<language>/time.toml, without patterns, and whether a month comes before the day.

    Raises SettingsError naming the file and the key for anything missing or of the wrong kind.
    """
    toml = _Toml(dialogs / language / "time.toml")
    weekdays, months = toml.spellings("weekdays.names", 7), toml.spellings("months.names", 12)
    tables = {key: toml.numbers(key) for key in _TABLES}
    tables["weekdays"] = {word_key(word): day for day, names in enumerate(weekdays) for word in names}
    tables["months"] = {word_key(word): month + 1 for month, names in enumerate(months) for word in names}
    parts = _parts(toml)
    say = _say(toml)
    lists = {key: tuple(map(word_key, toml.words(key))) for key in _LISTS}
    hours = (toml.get("defaults.hour", int), toml.get("defaults.latest", int))
    spoken = (tuple(names[0] for names in weekdays), tuple(names[0] for names in months))
    words = TimeWords(
        language, lists, tables, parts, *spoken, say, *hours, toml.get("defaults.afternoon_below", int)
    )
    return words, toml.get("months.month_first", bool)


def _parts(toml: _Toml) -> dict[str, tuple[DayPart, bool]]:
    parts: dict[str, tuple[DayPart, bool]] = {}
    for name in toml.get("parts", dict):
        at = f"parts.{name}"
        part = DayPart(toml.get(f"{at}.hour", int), toml.get(f"{at}.from", int), toml.get(f"{at}.to", int))
        parts |= {word_key(word): (part, False) for word in toml.words(f"{at}.words")}
        parts |= {word_key(word): (part, True) for word in toml.words(f"{at}.today")}
    return parts


def _say(toml: _Toml) -> dict[str, str]:
    """The templates for saying a time back, each tried once so that a typo fails at start-up."""
    say = {key: toml.get(f"say.{key}", str) for key in (*_SAY_KEYS, "am", "pm")}
    sample = {"hour": 14, "hour12": 2, "mm": "30", "ampm": "pm", "time": "14", "weekday": "x", "day": 3}
    for key in _SAY_KEYS:
        try:
            say[key].format(**sample, month="x", year=2027)
        except (KeyError, IndexError, ValueError) as error:
            raise toml.fail(f"say.{key}", f"uses an unknown field or a stray brace ({error})") from error
    return say
