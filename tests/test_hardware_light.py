"""GpioLight through real gpiozero PWMLED/LED devices on MockFactory pins: each pattern must really differ
on the pin. The patterns run side by side on separate pins, so the whole file takes about two seconds."""

from __future__ import annotations

import io
import itertools
import logging
import time
from collections.abc import Iterator

import pytest
from gpiozero import LED, Device
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from hardware.base import Light, LightPattern
from hardware.light import BREATH_HIGH, ConsoleLight, GpioLight

WATCH_S = 1.4
"""Long enough for three ERROR flashes and the start of its pause (the pause starts at 0.75 s)."""


@pytest.fixture
def pwm_factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def plain_factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def run_patterns(factory: MockFactory, dimmable: bool) -> dict[LightPattern, list[tuple[float, float]]]:
    """(time since the pattern began, value) for every change, per pattern, all watched at once."""
    lights: dict[LightPattern, GpioLight] = {}
    for pin, pattern in enumerate(LightPattern, start=18):
        lights[pattern] = GpioLight(pin, dimmable)
        lights[pattern].start()
    for pattern, light in lights.items():
        factory.pin(light.pin).clear_states()
        light.show(pattern)
    time.sleep(WATCH_S)
    histories = {}
    for pattern, light in lights.items():
        states = list(factory.pin(light.pin).states)
        light.close()
        elapsed, history = 0.0, []
        for state in states:
            elapsed += state.timestamp
            history.append((elapsed, float(state.state)))
        histories[pattern] = history
    return histories


def values(history: list[tuple[float, float]]) -> list[float]:
    return [value for _, value in history]


def on_periods(history: list[tuple[float, float]]) -> list[float]:
    """Durations of the completed on-periods of an on/off history."""
    periods, since = [], None
    for at, value in history:
        if value and since is None:
            since = at
        elif not value and since is not None:
            periods.append(at - since)
            since = None
    return periods


def rising_edges(history: list[tuple[float, float]]) -> int:
    vals = values(history)
    return sum(1 for before, after in itertools.pairwise(vals) if after > before and before == 0)


def test_dimmable_patterns_each_look_different_on_the_pin(pwm_factory: MockFactory) -> None:
    runs = run_patterns(pwm_factory, dimmable=True)

    assert set(values(runs[LightPattern.OFF])) == {0.0}

    listening = values(runs[LightPattern.LISTENING])
    assert listening[-1] == 1.0 and set(listening) <= {0.0, 1.0} and len(listening) <= 2

    idle = values(runs[LightPattern.IDLE])
    assert len(idle) > 10, "a breath changes the brightness many times"
    assert 0 < max(idle) <= BREATH_HIGH + 1e-9, "and stays dim"

    speaking = values(runs[LightPattern.SPEAKING])
    assert max(speaking) > 0.9 and any(0.1 < v < 0.9 for v in speaking), "a pulse fades to full"

    thinking = runs[LightPattern.THINKING]
    assert set(values(thinking)) <= {0.0, 1.0}
    assert rising_edges(thinking) >= 4
    assert all(0.1 <= p <= 0.3 for p in on_periods(thinking))

    error = runs[LightPattern.ERROR]
    assert set(values(error)) <= {0.0, 1.0}
    assert rising_edges(error) == 3, "three flashes, then the pause"
    last_off = error[-1]
    assert last_off[1] == 0.0 and WATCH_S - last_off[0] > 0.3

    shapes = {pattern: tuple(round(v, 2) for v in values(history)) for pattern, history in runs.items()}
    assert len(set(shapes.values())) == len(LightPattern)


def test_on_off_patterns_differ_by_timing(plain_factory: MockFactory) -> None:
    runs = run_patterns(plain_factory, dimmable=False)
    for history in runs.values():
        assert set(values(history)) <= {0.0, 1.0}
    assert rising_edges(runs[LightPattern.OFF]) == 0
    assert values(runs[LightPattern.LISTENING])[-1] == 1.0
    assert rising_edges(runs[LightPattern.LISTENING]) == 1
    assert rising_edges(runs[LightPattern.IDLE]) == 1
    assert on_periods(runs[LightPattern.IDLE])[0] == pytest.approx(0.1, abs=0.08)
    assert on_periods(runs[LightPattern.SPEAKING])[0] == pytest.approx(0.6, abs=0.1)
    assert all(p == pytest.approx(0.15, abs=0.08) for p in on_periods(runs[LightPattern.THINKING]))
    assert rising_edges(runs[LightPattern.THINKING]) >= 4
    assert rising_edges(runs[LightPattern.ERROR]) == 3


def test_dimmable_without_pwm_falls_back_to_blinking(
    plain_factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    light = GpioLight(18, dimmable=True)
    with caplog.at_level(logging.WARNING):
        light.start()
    assert "cannot dim" in caplog.text
    light.show(LightPattern.LISTENING)
    assert plain_factory.pin(18).state
    light.close()


def test_construction_is_cheap_and_show_starts_the_light(pwm_factory: MockFactory) -> None:
    light = GpioLight(18, dimmable=True)
    assert isinstance(light, Light)
    assert not pwm_factory.pins
    light.show(LightPattern.LISTENING)
    assert pwm_factory.pin(18).state == 1.0
    light.close()


def test_showing_the_same_pattern_again_does_not_restart_it(pwm_factory: MockFactory) -> None:
    light = GpioLight(18, dimmable=True)
    light.show(LightPattern.THINKING)
    time.sleep(0.05)
    pin = pwm_factory.pin(18)
    pin.clear_states()
    light.show(LightPattern.THINKING)
    assert len(pin.states) == 1, "no off-then-on hiccup"
    light.close()


def test_close_turns_off_and_frees_the_pin(pwm_factory: MockFactory) -> None:
    light = GpioLight(18, dimmable=True)
    light.show(LightPattern.ERROR)
    light.close()
    assert pwm_factory.pin(18).state == 0
    LED(18).close()


def test_console_light_prints_on_change_only() -> None:
    out = io.StringIO()
    light = ConsoleLight(out)
    assert isinstance(light, Light)
    for pattern in (LightPattern.IDLE, LightPattern.IDLE, LightPattern.LISTENING, LightPattern.IDLE):
        light.show(pattern)
    assert out.getvalue().splitlines() == ["[light: idle]", "[light: listening]", "[light: idle]"]
