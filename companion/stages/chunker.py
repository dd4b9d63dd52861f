"""Clause chunking: hand the voice the first clause as soon as it is complete.

The first clause is what decides when the person hears the companion answer, so it may end at a comma
(once it is long enough to sound natural); later text is cut at sentence ends, or at a comma when a
sentence runs long, which keeps the voice's intonation whole while the LLM keeps generating.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from companion.events import Clause, Event, ReplyDelta, ReplyDone

_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”)]*(?=\s)|\n+")
_CLAUSE_END = re.compile(r"[,;:–—](?=\s)")


class ClauseChunker:
    def __init__(
        self,
        abbreviations: Iterable[str] = (),
        first_clause_min_chars: int = 12,
        long_sentence_chars: int = 90,
    ) -> None:
        self._abbreviations = {a.lower() for a in abbreviations}
        self._first_min = first_clause_min_chars
        self._long = long_sentence_chars
        self._buffer = ""
        self._spoken_any = False

    def process(self, event: Event) -> Iterator[Event]:
        if isinstance(event, ReplyDelta):
            # The text pieces go on too: observers (the console, a debug recorder) show the reply as it grows.
            yield event
            self._buffer += event.text
            yield from self._complete_clauses()
        elif isinstance(event, ReplyDone):
            # LLM output without a sentence end is still spoken: the end of generation ends the clause.
            rest = self._buffer.strip()
            self._reset()
            if rest:
                yield Clause(rest)
            yield event
        else:
            yield event

    def _reset(self) -> None:
        self._buffer = ""
        self._spoken_any = False

    def _complete_clauses(self) -> Iterator[Clause]:
        while True:
            cut = self._next_cut()
            if cut is None:
                return
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
            if clause:
                self._spoken_any = True
                yield Clause(clause)

    def _next_cut(self) -> int | None:
        """Where the earliest complete clause ends, or None while it is still being generated."""
        sentence_end = next(
            (m.end() for m in _SENTENCE_END.finditer(self._buffer) if not self._is_abbreviation(m.start())),
            None,
        )
        clause_min = self._long if self._spoken_any else self._first_min
        clause_end = next(
            (m.end() for m in _CLAUSE_END.finditer(self._buffer) if m.end() >= clause_min), None
        )
        cuts = [cut for cut in (sentence_end, clause_end) if cut is not None]
        return min(cuts) if cuts else None

    def _is_abbreviation(self, dot_at: int) -> bool:
        if self._buffer[dot_at] != ".":
            return False
        words = self._buffer[:dot_at].split()
        if not words:
            return False
        last = words[-1].lower() + "."
        # "kl." or "f.eks." before a time or an example is not a sentence end; nor is a lone initial "A."
        return last in self._abbreviations or (len(last) == 2 and last[0].isalpha() and words[-1].isupper())


def clauses_of(text_pieces: Iterable[str], abbreviations: Iterable[str] = ()) -> list[str]:
    """The clauses a stream of text pieces would be spoken as (used by `say` and tests)."""
    chunker = ClauseChunker(abbreviations)
    events: list[Event] = [*(ReplyDelta(piece) for piece in text_pieces), ReplyDone()]
    return [out.text for event in events for out in chunker.process(event) if isinstance(out, Clause)]
