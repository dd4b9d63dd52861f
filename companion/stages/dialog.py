"""The dialog stage: what the companion answers.

A reply is two things: its text, streamed as ReplyDelta pieces so speech can start at the first clause,
and a list of structured acts (ReplyDone.acts) that record what was decided — the record usage summaries
count and the policy of "The companion's mind" fills in. This first dialog passes the words to the LLM
with the persona from dialogs/; the policy replaces it behind the same `Dialog` protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from companion.content import Phrases
from companion.events import Act, Event, ReplyDelta, ReplyDone, Transcript
from companion.llm import LlamaChat


class Dialog(Protocol):
    def respond(self, transcript: Transcript) -> Iterator[ReplyDelta | ReplyDone]:
        """Stream the reply to one thing the person said; always ends with exactly one ReplyDone."""
        ...


class LlmDialog:
    def __init__(self, chat: LlamaChat, phrases: Phrases) -> None:
        self._chat = chat
        self._phrases = phrases

    def respond(self, transcript: Transcript) -> Iterator[ReplyDelta | ReplyDone]:
        if not transcript.text.strip():
            # Nothing heard: a fixed line, and no LLM call, so the person is answered at once.
            yield ReplyDelta(self._phrases.say("nothing_heard"))
            yield ReplyDone((Act("nothing_heard"),))
            return
        said_something = False
        for piece in self._chat.reply(transcript.text):
            said_something = said_something or bool(piece.strip())
            yield ReplyDelta(piece)
        if not said_something:
            yield ReplyDelta(self._phrases.say("no_reply"))
            yield ReplyDone((Act("no_reply"),))
            return
        yield ReplyDone((Act("chat"),))


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
