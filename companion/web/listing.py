"""What the pages and the API say about a household's reminders and the groups on offer, in words.

A household's reminders page is asked for far more often than its reminders change, so what it shows is
kept (`HouseholdViews`) and read again from the database only when the household's reminders or their
occurrences changed — by this process or by the device — or when the minute turns ("next time" moves on).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from markupsafe import Markup, escape
from sqlalchemy import Engine

from companion.mind.catalogue import COPENHAGEN, Group
from companion.reminders.book import History, Reminder, ReminderBook
from companion.reminders.recurrence import expand, local
from companion.store.catalogue import load_catalogue_from_db
from companion.web.i18n import LANGUAGES, translations

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
IN_A_DATE = "in a date"
"""The gettext context of names and patterns inside a sentence ("mandag den 2. marts"), where Danish
writes weekdays and months in small letters."""
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
GROUPS_AHEAD = timedelta(days=14)
HOUSEHOLDS_KEPT = 256
"""Views kept at once: one household on a device; on a hub the households being looked at right now."""
View = TypeVar("View")
CSRF_HOLE = "<csrf>"
"""Where each visitor's own CSRF token goes in a list shared by the household: no reminder's words can put
this there, because they are escaped ("&lt;csrf&gt;")."""


def day_words(day: date, language: str) -> str:
    """ "mandag den 2. marts 2026" / "Monday, March 2, 2026".

    From the page's own catalogs rather than Babel's CLDR data, which would keep about 6 MB of every
    language's names of currencies, countries and time zones in the web process for these few words."""
    pgettext = translations(language).pgettext
    return pgettext(IN_A_DATE, "%(weekday)s, %(month)s %(day)d, %(year)d") % {
        "weekday": pgettext(IN_A_DATE, WEEKDAY_NAMES[day.weekday()]),
        "month": pgettext(IN_A_DATE, MONTH_NAMES[day.month - 1]),
        "day": day.day,
        "year": day.year,
    }


def clock_words(moment: datetime | time, language: str) -> str:
    """ "10.00" in Danish, "10:00" in English."""
    pattern = translations(language).pgettext(IN_A_DATE, "%(hour)02d:%(minute)02d")
    return pattern % {"hour": moment.hour, "minute": moment.minute}


@lru_cache(maxsize=4096)
def when_words(moment: datetime, language: str) -> str:
    """ "mandag den 2. marts 2026 klokken 10.00" (cached: a page says the same times over and over)."""
    return translations(language).gettext("%(day)s at %(time)s") % {
        "day": day_words(moment.date(), language),
        "time": clock_words(moment, language),
    }


def choice_of(rrule: str | None) -> tuple[str, list[str]]:
    """The page's choice for a reminder's RRULE: (once|daily|weekly, the weekdays named)."""
    rule = rrule or ""
    repeat = (
        "daily" if rule.startswith("FREQ=DAILY") else "weekly" if rule.startswith("FREQ=WEEKLY") else "once"
    )
    days = rule.partition("BYDAY=")[2].split(";")[0].split(",") if "BYDAY=" in rule else []
    return repeat, [day for day in days if day in WEEKDAYS]


@lru_cache(maxsize=4096)
def repeat_words(rrule: str | None, starts_at: datetime, language: str) -> str:
    """ "Every week on Monday, Thursday at 08:00" (cached like `when_words`)."""
    gettext = translations(language).gettext
    at = clock_words(starts_at, language)
    repeat, chosen = choice_of(rrule)
    if repeat == "once":
        return gettext("Once: %(when)s") % {"when": when_words(starts_at, language)}
    if repeat == "daily":
        return gettext("Every day at %(time)s") % {"time": at}
    numbers = [WEEKDAYS.index(day) for day in chosen] or [starts_at.weekday()]
    days = [translations(language).pgettext(IN_A_DATE, WEEKDAY_NAMES[number]) for number in numbers]
    return gettext("Every week on %(days)s at %(time)s") % {"days": ", ".join(days), "time": at}


def next_time(reminder: Reminder, now_utc: datetime) -> datetime | None:
    """The reminder's next wall time after now; None once it has none left."""
    following: datetime | None = expand(reminder.rrule, reminder.starts_at).after(local(now_utc))
    return following


def reminders_in_words(
    reminders: list[Reminder], histories: dict[int, History], now_utc: datetime, language: str
) -> list[dict[str, Any]]:
    """The reminders page's list, every sentence already in the visitor's language: each reminder's words,
    who asked, its repetition, its next time and what became of its last occurrences."""
    gettext = translations(language).gettext
    said = gettext("said — waiting for the button")
    outcome = {
        "acknowledged": gettext("heard — the button was pressed"),
        "missed": gettext("missed — no one pressed the button"),
        "delivered": said,
        "delivering": said,
        "pending": gettext("coming up"),
    }
    listed = []
    for reminder in reminders:
        following = next_time(reminder, now_utc)
        by = reminder.asked_by_name if reminder.asked_by != "person" else ""
        listed.append(
            {
                "id": reminder.id,
                "text": reminder.text,
                "by": gettext("Asked for by %(name)s") % {"name": by} if by else "",
                "repeat": repeat_words(reminder.rrule, reminder.starts_at, language),
                "next": gettext("Next time: %(when)s") % {"when": when_words(following, language)}
                if following
                else "",
                "history": [
                    {"when": when_words(local(at), language), "state": state, "outcome": outcome[state]}
                    for at, _lead, state in histories[reminder.id]
                ],
            }
        )
    return listed


def with_token(shared: Markup, csrf: str) -> Markup:
    """A shared list with the visitor's CSRF token in its forms."""
    return Markup(str(shared).replace(CSRF_HOLE, str(escape(csrf))))


def groups_on_offer(engine: Engine, language: str) -> tuple[Group, ...]:
    """The device's catalogue (seeded in the device's language, which may not be the visitor's)."""
    for catalogue_language in (language, *(other for other in LANGUAGES if other != language)):
        found = load_catalogue_from_db(engine, catalogue_language)
        if found:
            return found
    return ()


@dataclass
class HouseholdViews:
    """Views of a household's reminders, each kept until something it shows can have changed.

    A view is built from the household's reminders and their histories by a function given with its
    `kind` (the page's list in Danish, the API's list …) and handed out as it is: callers only read it.
    Used from the event loop's thread only (the read-only handlers are async).
    """

    book: ReminderBook
    now: Callable[[], datetime]
    _kept: OrderedDict[tuple[int, str], tuple[object, Any]] = field(default_factory=OrderedDict)
    _groups: dict[str, tuple[datetime, list[dict[str, str]]]] = field(default_factory=dict)
    _changes_here: int = 0
    """Changes this process made through `book`: seen at once, even within one tick of the clock."""

    def __post_init__(self) -> None:
        self.book.on_change = self._changed

    def _changed(self) -> None:
        self._changes_here += 1

    def of(
        self, household_id: int, kind: str, build: Callable[[list[Reminder], dict[int, History]], View]
    ) -> View:
        # The minute is part of the stamp: "next time" moves on, and a clock stepped back by NTP (which
        # could leave the household's state looking unchanged) is trusted again a minute later.
        minute = self.now().replace(second=0, microsecond=0)
        stamp = (minute, self._changes_here, self.book.household_state(household_id))
        key = (household_id, kind)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == stamp:
            self._kept.move_to_end(key)
            view: View = kept[1]
            return view
        own = self.book.all(household_id)
        view = build(own, self.book.histories([reminder.id for reminder in own]))
        self._kept[key] = (stamp, view)
        if len(self._kept) > HOUSEHOLDS_KEPT:
            self._kept.popitem(last=False)
        return view

    def upcoming_groups(self, engine: Engine, language: str) -> list[dict[str, str]]:
        """The catalogue's sessions of the next two weeks, worked out once a minute (every page has them)."""
        minute = local(self.now()).replace(second=0, microsecond=0)
        kept = self._groups.get(language)
        if kept is None or kept[0] != minute:
            kept = (minute, _upcoming_groups(engine, language, minute.replace(tzinfo=COPENHAGEN)))
            self._groups[language] = kept
        return kept[1]


def _upcoming_groups(engine: Engine, language: str, now: datetime) -> list[dict[str, str]]:
    coming = []
    for group in groups_on_offer(engine, language):
        session = group.upcoming(now)
        if session is not None and session - now <= GROUPS_AHEAD:
            coming.append((session, group))
    return [
        {
            "id": group.id,
            "name": group.name,
            "when": when_words(session.replace(tzinfo=None), language),
            "place": group.place,
        }
        for session, group in sorted(coming, key=lambda pair: pair[0])
    ]
