"""The stand-ins for the button and the microphone."""

from __future__ import annotations

import io

from hardware.base import Button
from hardware.simulated import KeyboardButton, SimulatedButton, TypedTextInput


def test_simulated_button_fires_once_per_change() -> None:
    button = SimulatedButton()
    assert isinstance(button, Button)
    events: list[str] = []
    button.when_pressed = lambda: events.append("pressed")
    button.when_released = lambda: events.append("released")
    button.start()
    button.release()  # not pressed: nothing to release
    button.press()
    button.press()
    assert button.is_pressed
    button.release()
    button.close()
    button.press()  # closed: ignored
    assert events == ["pressed", "released"]


def test_enter_presses_and_the_next_enter_releases() -> None:
    out = io.StringIO()
    button = KeyboardButton(stream=io.StringIO("\n\n\n"), out=out)
    events: list[str] = []
    button.when_pressed = lambda: events.append("pressed")
    button.when_released = lambda: events.append("released")
    button.start()
    button.join(2.0)
    # The third Enter pressed again; the end of input then released, so no turn is left open.
    assert events == ["pressed", "released", "pressed", "released"]
    assert "Enter" in out.getvalue()


def test_typed_text_reads_lines_and_none_at_the_end() -> None:
    out = io.StringIO()
    text = TypedTextInput(stream=io.StringIO("hello there\r\n\nlast line"), out=out)
    text.start()
    assert text.read_line("you> ") == "hello there"
    assert text.read_line("you> ") == ""
    assert text.read_line("you> ") == "last line"
    assert text.read_line("you> ") is None
    assert out.getvalue() == "you> " * 4
    text.close()
