"""Observers see every event of the loop (the light, the console, later usage counts) but can never
block it: events are handed to one dispatcher thread through a queue, and an observer that fails is
logged and kept out of the loop's way.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from companion.events import (
    AudioStart,
    Clause,
    DeviceFault,
    Event,
    ListeningStarted,
    ReminderWaiting,
    StageError,
    Transcript,
    TurnDone,
    Utterance,
)
from hardware.base import Light, LightPattern

log = logging.getLogger(__name__)

Observer = Callable[[Event], None]


class _Marker:
    def __init__(self, done: threading.Event) -> None:
        self.done = done


class ObserverHub:
    def __init__(self, observers: list[Observer] | None = None) -> None:
        self._observers = list(observers or [])
        self._queue: queue.SimpleQueue[Event | _Marker | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, observer: Observer) -> None:
        self._observers.append(observer)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._dispatch, name="observers", daemon=True)
        self._thread.start()

    def publish(self, event: Event) -> None:
        if self._closed:
            return  # after shutdown the light and console are gone; a late event has nowhere to go
        if self._thread is None:
            self._deliver(event)
        else:
            self._queue.put(event)

    def flush(self) -> None:
        """Wait until every event published so far has been seen (for tests and orderly shutdown)."""
        if self._thread is None:
            return
        done = threading.Event()
        self._queue.put(_Marker(done))
        done.wait(timeout=5)

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _dispatch(self) -> None:
        while (event := self._queue.get()) is not None:
            if isinstance(event, _Marker):
                event.done.set()
                continue
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception:  # an observer's failure must never reach the speech loop
                log.exception("observer %r failed on %s", observer, type(event).__name__)


class LightObserver:
    """Shows the loop's state on the light."""

    def __init__(self, light: Light) -> None:
        self._light = light
        self._missing: set[str] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, DeviceFault):
            self._missing.discard(event.part)
            self._missing |= {event.part} if event.missing else set()
        pattern = {
            ListeningStarted: LightPattern.LISTENING,
            Utterance: LightPattern.THINKING,
            Transcript: LightPattern.THINKING,
            AudioStart: LightPattern.SPEAKING,
            TurnDone: LightPattern.IDLE,
            StageError: LightPattern.ERROR,
        }.get(type(event))
        if isinstance(event, ReminderWaiting):
            pattern = LightPattern.REMINDER if event.waiting else LightPattern.IDLE
        if isinstance(event, DeviceFault):
            pattern = LightPattern.IDLE
        if pattern is LightPattern.IDLE and self._missing:
            pattern = LightPattern.ERROR  # resting, but a part is missing: the light keeps saying so
        if pattern is not None:
            self._light.show(pattern)


class ConsolePrinter:
    """Prints what was heard and what is said: simulated mode always shows the conversation as text."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        if isinstance(event, Transcript):
            print(f"you> {event.text or '(nothing heard)'}", file=self._stream, flush=True)
        elif isinstance(event, Clause):
            print(f"companion> {event.text}", file=self._stream, flush=True)
        elif isinstance(event, StageError):
            print(f"companion> [{event.code}] {event.message}", file=self._stream, flush=True)
        elif isinstance(event, DeviceFault):
            state = "missing" if event.missing else "back"
            print(f"companion> [the {event.part} is {state}]", file=self._stream, flush=True)
        elif isinstance(event, ReminderWaiting) and event.waiting:
            print(
                "companion> [a reminder: Enter is the button that acknowledges it]",
                file=self._stream,
                flush=True,
            )
