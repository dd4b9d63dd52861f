"""Small processors of the speech loop, each with one entry point: `process(event) -> Iterator[Event]`.

A stage handles the events it knows and passes every other event on unchanged, in order (pipecat's
SentenceAggregator pattern), so stages compose by simple chaining and each can be tested on its own by
feeding it events and looking at what comes out.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Protocol

from companion.events import Event


class Stage(Protocol):
    def process(self, event: Event) -> Iterator[Event]: ...


def run_stages(stages: Sequence[Stage], events: Iterable[Event]) -> Generator[Event, None, None]:
    """Push `events` through `stages` lazily, first stage first.

    Lazy all the way: the first audio of a reply leaves the last stage while the LLM is still generating,
    and closing this generator (an interrupt) closes every stage's generator above it at once.
    """
    stream: Iterable[Event] = events
    for stage in stages:
        stream = _through(stage, stream)
    yield from stream


def _through(stage: Stage, events: Iterable[Event]) -> Iterator[Event]:
    for event in events:
        yield from stage.process(event)
