"""Stand-ins for the button and the microphone on a machine without GPIO or without a microphone.

`SimulatedButton` is pressed by code (tests, a WAV file's start and end), `KeyboardButton` by the Enter key,
and `TypedTextInput` lets a person type what they would have said.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)


class SimulatedButton:
    """A button pressed and released by calling `press()` and `release()`.

    A second press while held (or a release while up) does nothing, like a real button that cannot be
    pressed twice.
    """

    def __init__(self) -> None:
        self.when_pressed: Callable[[], None] | None = None
        self.when_released: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._pressed = False
        self._closed = False

    @property
    def is_pressed(self) -> bool:
        return self._pressed

    def start(self) -> None:
        self._closed = False

    def press(self) -> None:
        if self._change(True) and self.when_pressed is not None:
            self.when_pressed()

    def release(self) -> None:
        if self._change(False) and self.when_released is not None:
            self.when_released()

    def close(self) -> None:
        self._closed = True

    def _change(self, pressed: bool) -> bool:
        with self._lock:
            if self._closed or self._pressed == pressed:
                return False
            self._pressed = pressed
            return True


class KeyboardButton(SimulatedButton):
    """The Enter key as the button: the first Enter presses it, the next releases it.

    A daemon thread reads the lines, because a blocking read of stdin cannot be interrupted; `close()`
    makes it ignore whatever comes after.
    """

    HINT = "Press Enter to start talking, and Enter again when you have finished."

    def __init__(self, stream: TextIO | None = None, out: TextIO | None = None) -> None:
        super().__init__()
        self._stream = stream
        self._out = out
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        super().start()
        if self._thread is not None:
            return
        out = self._out if self._out is not None else sys.stderr
        print(self.HINT, file=out, flush=True)
        self._thread = threading.Thread(target=self._run, name="keyboard-button", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stream = self._stream if self._stream is not None else sys.stdin
        for _line in stream:
            if self._closed:
                return
            if self.is_pressed:
                self.release()
            else:
                self.press()
        log.info("keyboard input ended")
        # End of input while held would otherwise leave a turn open forever.
        self.release()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the input to end (for tests and piped input)."""
        if self._thread is not None:
            self._thread.join(timeout)


class TypedTextInput:
    """Typed lines instead of speech, where there is no microphone."""

    def __init__(self, stream: TextIO | None = None, out: TextIO | None = None) -> None:
        self._stream = stream
        self._out = out

    def start(self) -> None:
        """Nothing to open; here so every part of the hardware can be started the same way."""

    def read_line(self, prompt: str) -> str | None:
        """The next line without its newline; None at the end of input (Ctrl-D)."""
        if self._stream is None and self._out is None:
            try:
                return input(prompt)
            except EOFError:
                return None
        out = self._out if self._out is not None else sys.stdout
        stream = self._stream if self._stream is not None else sys.stdin
        out.write(prompt)
        out.flush()
        line = stream.readline()
        return line.rstrip("\r\n") if line else None

    def close(self) -> None:
        """Nothing to release."""
