"""The big push button on a GPIO pin, through gpiozero.

The button connects the pin to ground and the pin's internal pull-up keeps it high otherwise, so no
resistor is needed (see hardware/README.md). This class only reports presses and releases; whether a
press was a tap or a hold is decided by the caller from audio time, never from the wall clock here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from companion.errors import HardwareError, MissingPackageError

log = logging.getLogger(__name__)


def import_gpiozero() -> Any:
    try:
        import gpiozero
    except ImportError as error:
        raise MissingPackageError("gpiozero", "gpiozero") from error
    return gpiozero


class GpioButton:
    """A push button between BCM pin `pin` and ground; contact bounce under `bounce_ms` is ignored.

    The debouncing is gpiozero's (its pin factory's, in fact: lgpio on a Pi 5). Callbacks run on
    gpiozero's event thread.
    """

    def __init__(self, pin: int, bounce_ms: int) -> None:
        self.pin = pin
        self.bounce_ms = bounce_ms
        self.when_pressed: Callable[[], None] | None = None
        self.when_released: Callable[[], None] | None = None
        self._device: Any = None

    @property
    def is_pressed(self) -> bool:
        return bool(self._device is not None and self._device.is_pressed)

    def start(self) -> None:
        if self._device is not None:
            return
        gpiozero = import_gpiozero()
        bounce = self.bounce_ms / 1000 if self.bounce_ms > 0 else None
        try:
            device = gpiozero.Button(self.pin, pull_up=True, bounce_time=bounce)
        except gpiozero.GPIOZeroError as error:
            raise HardwareError(
                f"Cannot use GPIO{self.pin} for the button: {error}.",
                "Check hardware.button_pin and that no other program uses the pin.",
            ) from error
        # Our own methods are registered, not the caller's callbacks, so the caller may set or change
        # when_pressed at any time, before or after start().
        device.when_pressed = self._pressed
        device.when_released = self._released
        self._device = device
        log.info("button on GPIO%s (bounce %s ms)", self.pin, self.bounce_ms)

    def _pressed(self) -> None:
        callback = self.when_pressed
        if callback is not None:
            callback()

    def _released(self) -> None:
        callback = self.when_released
        if callback is not None:
            callback()

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()
