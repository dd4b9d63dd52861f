"""The microphone's reader thread: each block into the device loop's inbox, as it comes.

A microphone that stops (unplugged, or missing when the companion started) does not end anything: the
fault is published — the light shows it, systemd's status says it — and the microphone is opened again
every second until it answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from companion.errors import CompanionError
from companion.events import AudioChunk, AudioStop, DeviceFault, Event, StageError
from hardware.base import AudioSource

log = logging.getLogger(__name__)

MICROPHONE_RETRY_S = 1.0
"""How often a lost microphone is tried again: back within a few seconds of being plugged in."""


class MicrophoneReader:
    def __init__(
        self,
        source: AudioSource,
        deliver: Callable[[Event], None],
        publish: Callable[[Event], None],
        stop: threading.Event,
    ) -> None:
        self._source = source
        self._deliver = deliver
        """Into the loop's inbox: audio, and AudioStop when the source ends (or the loop stops)."""
        self._publish = publish
        self._stop = stop
        self.error: CompanionError | None = None
        """Why the microphone is missing now; None while it delivers."""
        self._thread: threading.Thread | None = None

    def lost(self, error: CompanionError) -> None:
        """The microphone failed (or could not be opened at start-up): it is tried again once running."""
        log.error("the microphone failed: %s", error.message)
        self.error = error
        self._publish(StageError("audio", error.code, error.message))
        self._publish(DeviceFault("microphone", missing=True))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="microphone", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        """After the stop flag is set: no reopening may outlive the loop (the device is closed next)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            if self.error is not None and not self._reopen():
                return
            while not self._stop.is_set():
                try:
                    block = self._source.read()
                except CompanionError as error:
                    self.lost(error)
                    if not self._reopen():
                        return
                    continue
                if not block:
                    return
                self._deliver(AudioChunk(block, self._source.rate))
        finally:
            self._deliver(AudioStop())

    def _reopen(self) -> bool:
        """Try the microphone every second until it answers; False when the loop stops first."""
        while not self._stop.wait(MICROPHONE_RETRY_S):
            try:
                self._source.close()
                self._source.start()
            except CompanionError as error:
                log.debug("the microphone is still missing: %s", error.message)
                continue
            log.info("the microphone is back")
            self.error = None
            self._publish(DeviceFault("microphone", missing=False))
            return True
        return False
