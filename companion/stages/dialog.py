"""The dialog stage: what the companion answers.

A reply is two things: its text, streamed as ReplyDelta pieces so speech can start at the first clause,
and a list of structured acts (ReplyDone.acts) that record what was decided — the record usage summaries
count. The companion's dialog is the Mind (companion/mind/policy.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from companion.events import Event, ReplyDelta, ReplyDone, Transcript


class Dialog(Protocol):
    def respond(self, transcript: Transcript) -> Iterator[ReplyDelta | ReplyDone]:
        """Stream the reply to one thing the person said; always ends with exactly one ReplyDone."""
        ...


class DialogStage:
    """Transcript → ReplyDelta… ReplyDone; everything else passes through."""

    def __init__(self, dialog: Dialog) -> None:
        self._dialog = dialog

    def process(self, event: Event) -> Iterator[Event]:
        if isinstance(event, Transcript):
            yield event
            yield from self._dialog.respond(event)
        else:
            yield event
