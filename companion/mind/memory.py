"""What the companion remembers, and for how long.

- `Conversation`: the short-term window of the conversation under way. RAM only, never written to disk;
  dropped when the conversation ends.
- `MindState`: the durable part, written atomically to one JSON file in the data directory:
  * the profile — only what the person agreed to keep ("Må jeg huske, at du kan lide at læse?"):
    interest labels, a preferred format, relatives' names and relations;
  * the suggestion record — a day and a kind per suggestion and whether it was declined (no words),
    and whether the person asked to be left alone;
  * follow-ups — group sessions the person was reminded of, to ask afterwards how it went;
  * how the person likes the voice (speed, loudness).
Reminders, made by voice or by relatives, live in the database (companion.reminders.book).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from companion.errors import MindError
from companion.mind.replies import Question

log = logging.getLogger(__name__)

# Suggestions older than this no longer count toward any cap, so their record is dropped.
_SUGGESTION_MEMORY = timedelta(days=14)


@dataclass
class Profile:
    interests: list[str] = field(default_factory=list)
    preferred_format: str | None = None
    relatives: list[tuple[str, str]] = field(default_factory=list)
    """(name, relation) the person told the companion about and agreed to keep."""


@dataclass
class Suggestion:
    day: str
    """ISO date: no time of day, like every record an evaluator may later count."""
    kind: str
    declined: bool = False


@dataclass
class FollowUp:
    group_id: str
    session: str
    """ISO local start of the session the person was reminded of."""


@dataclass
class MindState:
    profile: Profile = field(default_factory=Profile)
    suggestions: list[Suggestion] = field(default_factory=list)
    paused_until_asked: bool = False
    follow_ups: list[FollowUp] = field(default_factory=list)
    length_scale_step: int = 0
    volume_step: int = 0

    def suggestions_on(self, day: date) -> int:
        return sum(1 for s in self.suggestions if s.day == day.isoformat())

    def declines_since(self, day: date) -> int:
        return sum(1 for s in self.suggestions if s.declined and s.day >= day.isoformat())

    def forget_old_suggestions(self, today: date) -> None:
        oldest = (today - _SUGGESTION_MEMORY).isoformat()
        self.suggestions = [s for s in self.suggestions if s.day >= oldest]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> MindState:
        raw: dict[str, Any] = json.loads(text)
        profile = raw.get("profile", {})
        return cls(
            profile=Profile(
                interests=list(profile.get("interests", [])),
                preferred_format=profile.get("preferred_format"),
                relatives=[(str(n), str(r)) for n, r in profile.get("relatives", [])],
            ),
            suggestions=[Suggestion(**s) for s in raw.get("suggestions", [])],
            paused_until_asked=bool(raw.get("paused_until_asked", False)),
            follow_ups=[FollowUp(**f) for f in raw.get("follow_ups", [])],
            length_scale_step=int(raw.get("length_scale_step", 0)),
            volume_step=int(raw.get("volume_step", 0)),
        )


class StateStore(Protocol):
    def load(self) -> MindState: ...

    def save(self, state: MindState) -> None: ...


class MemoryStore:
    """Keeps the state in RAM: for the scenario runner and tests, where nothing may touch the disk."""

    def __init__(self, state: MindState | None = None) -> None:
        self.state = state or MindState()
        self.saves = 0

    def load(self) -> MindState:
        return MindState.from_json(self.state.to_json())

    def save(self, state: MindState) -> None:
        self.state = MindState.from_json(state.to_json())
        self.saves += 1


class FileStore:
    """One JSON file, replaced atomically: a crash leaves the old state or the new one, never half."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> MindState:
        try:
            return MindState.from_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return MindState()
        except OSError as error:
            raise MindError(
                f"Could not read the companion's memory at {self.path}: {error.strerror}.",
                "Check [general] data_dir in the settings and that the directory is readable.",
            ) from error
        except (ValueError, TypeError, KeyError) as error:
            # A state we cannot read must not stop the companion from talking; keep the bad file for a
            # person to look at and start afresh.
            broken = self.path.with_suffix(".broken.json")
            log.error(
                "%s is unreadable (%s); kept as %s, starting with an empty memory", self.path, error, broken
            )
            self.path.replace(broken)
            return MindState()

    def save(self, state: MindState) -> None:
        written: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.path.parent, prefix=".mind-", delete=False
            ) as handle:
                written = Path(handle.name)
                handle.write(state.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(written, self.path)
        except OSError as error:
            if written is not None:
                written.unlink(missing_ok=True)
            raise MindError(
                f"Could not save the companion's memory to {self.path}: {error.strerror}.",
                "Check that the data directory is writable and the disk is not full.",
            ) from error


@dataclass
class Conversation:
    """The short-term window: RAM only, gone when the conversation ends."""

    last_turn: datetime | None = None
    turns: int = 0
    suggestions: int = 0
    last_reply: str = ""
    pending: Question | None = None
    later: list[Question] = field(default_factory=list)
    preferred_format: str | None = None
    asked_to_remember: set[str] = field(default_factory=set)
    followup_asked: bool = False
    last_group_id: str = ""
    """The group last suggested or asked about, so "hvornår er det?" has something to refer to."""
    in_crisis: bool = False
    last_reminder_id: int = 0
    """The reminder made in this conversation, which "slet den igen" means."""
    heard_check: str = ""
    """Words the recogniser was unsure of, which the companion asked about ("Sagde du: …?")."""
    unsure_misses: int = 0
    """Turns in a row heard unsurely: at the second, the companion asks for few words (hearing.py)."""
