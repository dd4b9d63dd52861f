"""The status light: an LED on a GPIO pin through gpiozero, or the console in simulated mode.

Patterns on a dimmable LED (gpiozero `PWMLED`, value 0.0–1.0):

| pattern   | what it looks like                      | timing                                              |
|-----------|-----------------------------------------|-----------------------------------------------------|
| OFF       | dark                                    | —                                                   |
| IDLE      | a slow, dim breath                      | 0.02 → 0.25 → 0.02 over 4 s, a new value every 50 ms |
| LISTENING | steady on                               | 1.0                                                 |
| THINKING  | quick blinking                          | 0.15 s on, 0.15 s off                               |
| SPEAKING  | a smooth pulse                          | fade in 0.6 s, fade out 0.6 s (gpiozero `pulse`)     |
| ERROR     | three short flashes, a pause, repeated  | (0.15 s on, 0.15 s off) × 3, then 1.05 s off: 1.95 s |

On a plain on/off LED (gpiozero `LED`) the fades become blinks, still all different:

| pattern   | timing                                |
|-----------|---------------------------------------|
| OFF       | off                                   |
| IDLE      | a 0.1 s blip every 4 s                |
| LISTENING | on                                    |
| THINKING  | 0.15 s on, 0.15 s off                 |
| SPEAKING  | 0.6 s on, 0.6 s off                   |
| ERROR     | as on a dimmable LED                  |
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from companion.errors import HardwareError
from hardware.base import LightPattern
from hardware.button import import_gpiozero

log = logging.getLogger(__name__)

BREATH_PERIOD_S = 4.0
BREATH_STEP_S = 0.05
BREATH_LOW, BREATH_HIGH = 0.02, 0.25
FLASH_S = 0.15
ERROR_STEPS = (1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
"""ERROR, one value per FLASH_S: three flashes, then the pause (7 × 0.15 s = 1.05 s dark)."""
PULSE_S = 0.6
REMINDER_BLINK_S = 0.8
IDLE_BLIP_S = 0.1


def breath_values() -> Iterator[float]:
    """One value per BREATH_STEP_S of a raised-cosine breath between BREATH_LOW and BREATH_HIGH, forever."""
    steps = int(BREATH_PERIOD_S / BREATH_STEP_S)
    cycle = [
        BREATH_LOW + (BREATH_HIGH - BREATH_LOW) * (1 - math.cos(2 * math.pi * i / steps)) / 2
        for i in range(steps)
    ]
    return itertools.cycle(cycle)


class GpioLight:
    """An LED on BCM pin `pin`: a `PWMLED` when `dimmable`, else an on/off `LED`.

    If the pin factory cannot do PWM, the light falls back to the on/off patterns with a warning rather
    than leave the person without a light. `show()` before `start()` starts the light, because the
    `Light` protocol has no `start()`.
    """

    def __init__(self, pin: int, dimmable: bool) -> None:
        self.pin = pin
        self.dimmable = dimmable
        self.pattern = LightPattern.OFF
        self._device: Any = None
        self._pwm = False
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        with self._lock:
            self._closed = False
            if self._device is None:
                self._open()
                self._apply(self.pattern)

    def _open(self) -> None:
        gpiozero = import_gpiozero()
        try:
            if self.dimmable:
                try:
                    self._device, self._pwm = gpiozero.PWMLED(self.pin), True
                except gpiozero.PinPWMUnsupported:
                    log.warning("GPIO%s cannot dim (no PWM); the light will blink instead", self.pin)
            if self._device is None:
                self._device, self._pwm = gpiozero.LED(self.pin), False
        except gpiozero.GPIOZeroError as error:
            raise HardwareError(
                f"Cannot use GPIO{self.pin} for the light: {error}.",
                "Check hardware.light_pin and that no other program uses the pin.",
            ) from error
        log.info("light on GPIO%s (%s)", self.pin, "dimmable" if self._pwm else "on/off")

    def show(self, pattern: LightPattern) -> None:
        with self._lock:
            if self._closed:
                return  # a late event after shutdown must not take the pin again
            if self._device is None:
                self._open()
            elif pattern is self.pattern:
                # Restarting the same pattern would make a visible hiccup in a breath or a blink.
                return
            self.pattern = pattern
            self._apply(pattern)

    def _apply(self, pattern: LightPattern) -> None:
        device = self._device
        device.source = None
        device.off()
        if pattern is LightPattern.IDLE:
            if self._pwm:
                device.source_delay = BREATH_STEP_S
                device.source = breath_values()
            else:
                device.blink(on_time=IDLE_BLIP_S, off_time=BREATH_PERIOD_S - IDLE_BLIP_S)
        elif pattern is LightPattern.LISTENING:
            device.on()
        elif pattern is LightPattern.THINKING:
            device.blink(on_time=FLASH_S, off_time=FLASH_S)
        elif pattern is LightPattern.SPEAKING:
            if self._pwm:
                device.pulse(fade_in_time=PULSE_S, fade_out_time=PULSE_S)
            else:
                device.blink(on_time=PULSE_S, off_time=PULSE_S)
        elif pattern is LightPattern.REMINDER:
            device.blink(on_time=REMINDER_BLINK_S, off_time=REMINDER_BLINK_S)
        elif pattern is LightPattern.ERROR:
            device.source_delay = FLASH_S
            device.source = itertools.cycle(ERROR_STEPS)
        log.debug("light: %s", pattern.value)

    def close(self) -> None:
        with self._lock:
            device, self._device = self._device, None
            self.pattern = LightPattern.OFF
            self._closed = True
        if device is not None:
            device.close()


class ConsoleLight:
    """The light in simulated mode: prints the pattern's name to stderr when it changes."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.pattern: LightPattern | None = None
        self._out = out
        self._lock = threading.Lock()

    def start(self) -> None:
        """Nothing to open."""

    def show(self, pattern: LightPattern) -> None:
        with self._lock:
            if pattern is self.pattern:
                return
            self.pattern = pattern
        out = self._out if self._out is not None else sys.stderr
        print(f"[light: {pattern.value}]", file=out, flush=True)

    def close(self) -> None:
        self.pattern = None
