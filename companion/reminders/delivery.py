"""Between the scheduler and the speech loop: what to say for a due reminder, and what a press means.

The device loop asks `next_announcement()` only when no turn is under way (a reminder never cuts into
what the person is saying or hearing); the occurrence is claimed in the database before a word is said.
While a reminder waits for its press, the next press of the button acknowledges it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from companion.content import Phrases
from companion.mind.catalogue import COPENHAGEN, Group
from companion.mind.time_words import TimeWords
from companion.mind.when import say_time
from companion.reminders.book import Reminder, ReminderBook
from companion.reminders.ledger import Ledger
from companion.reminders.occurrence import Occurrence
from companion.reminders.scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Announcement:
    occurrence: Occurrence
    text: str


class ReminderDesk:
    def __init__(
        self,
        book: ReminderBook,
        ledger: Ledger,
        scheduler: Scheduler,
        phrases: Phrases,
        time_words: TimeWords,
        group: Callable[[str], Group | None],
    ) -> None:
        self.book = book
        self.ledger = ledger
        self.scheduler = scheduler
        self.phrases = phrases
        self.time_words = time_words
        self._group = group

    def next_announcement(self) -> Announcement | None:
        """The next reminder to speak now, claimed for this attempt; None when nothing is due."""
        now = self.scheduler.clock.now()
        for occurrence in self.scheduler.ready():
            reminder = self.book.get(occurrence.reminder_id)
            if reminder is None:
                continue  # deleted since it fell due
            claimed = self.ledger.claim(occurrence, now)
            if claimed is not None:
                log.info("speaking reminder %s (attempt %d)", reminder.id, claimed.attempts)
                return Announcement(claimed, self.compose(reminder, claimed, now))
        return None

    def spoken(self, announcement: Announcement) -> None:
        self.ledger.spoken(announcement.occurrence.id, self.scheduler.clock.now())
        self.scheduler.poke()  # its repeat is now a time to wake for

    def waiting(self) -> bool:
        """A reminder is being spoken or waits for its press."""
        return bool(self.ledger.in_state("delivering", "delivered"))

    def acknowledge(self) -> bool:
        acknowledged = self.ledger.acknowledge(self.scheduler.clock.now())
        if acknowledged:
            log.info("reminder occurrence(s) %s acknowledged", acknowledged)
            self.scheduler.poke()
        return bool(acknowledged)

    def compose(self, reminder: Reminder, occurrence: Occurrence, now_utc: datetime) -> str:
        say = self.phrases.say
        lines = [say("reminder_again")] if occurrence.attempts > 1 else []
        group = self._group(reminder.group_id) if reminder.group_id else None
        someone = reminder.asked_by_name if reminder.asked_by != "person" else ""
        if group is not None:
            if someone:
                lines.append(say("reminder_group_from").format(name=someone))
            lines.append(self._group_line(group, occurrence, now_utc))
        elif someone:
            lines.append(say("reminder_from_someone").format(name=someone, what=reminder.text))
        elif reminder.text == say("reminder_bare_what"):
            lines.append(say("reminder_from_you_bare"))  # "giv mig besked klokken tre"
        else:
            lines.append(say("reminder_from_you").format(what=reminder.text))
        lines.append(say("reminder_press"))
        return " ".join(line for line in lines if line)

    def _group_line(self, group: Group, occurrence: Occurrence, now_utc: datetime) -> str:
        now = now_utc.replace(tzinfo=UTC).astimezone(COPENHAGEN)
        when = say_time(occurrence.due_at.replace(tzinfo=COPENHAGEN), now, self.time_words)
        if group.format == "physical":
            line = self.phrases.say("reminder_group").format(when=when, name=group.name, place=group.place)
        else:  # "På skærmen, hjemme hos dig selv" reads as "Det foregår på skærmen, …"
            place = group.place[:1].lower() + group.place[1:]
            line = self.phrases.say("reminder_group_remote").format(when=when, name=group.name, place=place)
        return line[:1].upper() + line[1:]
