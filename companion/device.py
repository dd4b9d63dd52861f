"""The device loop of `companion run`: button and microphone in, turns out.

One thread owns the endpointer and reads a single inbox, into which the button's callbacks, the
microphone reader (or the typed-line reader) and the reminder scheduler put their events in the order they
happen. So a button event is stamped with the audio time of the microphone blocks before it, turn-taking
never reads a clock, and a press while the companion speaks reaches the player at once.

Reminders are spoken only between turns: when the scheduler says something is due, the loop waits until
no turn is being heard or spoken, and for a pause after the person last spoke (the reminders' clock, not
the turn-taking). While a reminder waits for its press, a press acknowledges it (and is not the start of a
turn).

Faults do not end the loop: a microphone that stops (unplugged) is opened again every second until it
answers, while the light shows the fault and a press is answered with a spoken line; a speaker that fails
costs that reply (the light shows it), not the loop. Each turn of the loop is its heartbeat (`on_alive`,
systemd's watchdog) — withheld when a turn has run far too long, so a wedged companion is restarted.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from companion.engines import Engines
from companion.errors import CompanionError
from companion.events import (
    AudioStop,
    ButtonDown,
    ButtonUp,
    DeviceFault,
    EndReason,
    Event,
    ListeningStarted,
    ListenMode,
    ReminderWaiting,
    StageError,
    Transcript,
    Utterance,
)
from companion.microphone import MicrophoneReader
from companion.mind.replies import Decision
from companion.observers import ObserverHub
from companion.pipeline import TurnPlayer
from companion.reminders.delivery import Announcement, ReminderDesk
from companion.settings import Settings
from companion.stages.endpoint import Endpointer
from companion.stages.tts import earcon, reminder_chime
from hardware.base import LightPattern
from hardware.factory import Hardware

log = logging.getLogger(__name__)

_POLL_S = 0.25
"""How often an idle loop looks at the stop flag. Not a turn-taking timer: turns run on audio time."""
WEDGED_TURN_S = 180.0
"""A turn (or reminder) running longer than this is stuck: the heartbeat stops, and systemd restarts us.
A long reply on a Pi takes well under a minute."""
LONG_PRESS_MS = 5000
"""A hold this long (in audio time) with no speech in it asks for a pairing code for the web page."""


@dataclass(frozen=True)
class _RemindersDue:
    """From the scheduler's thread: something may be due, or a reminder's state may have changed."""


@dataclass(frozen=True)
class _TypedLine:
    text: str


_Inbox = Event | _RemindersDue | _TypedLine


class DeviceLoop:
    def __init__(
        self,
        settings: Settings,
        hardware: Hardware,
        engines: Engines,
        observers: ObserverHub,
        desk: ReminderDesk | None = None,
        on_alive: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._hardware = hardware
        self._engines = engines
        self._observers = observers
        self._inbox: queue.SimpleQueue[_Inbox] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._player = TurnPlayer(engines.pipeline(), hardware.sink, observers, settings.speech.earcon)
        self._swallow_release = False
        self._microphone = (
            MicrophoneReader(hardware.source, self._inbox.put, observers.publish, self._stop)
            if hardware.source is not None
            else None
        )
        self._desk = desk
        self._reminders_due = desk is not None
        self._reminder_light = False
        self._disk_full = False
        self._person_talked = False
        self._talk_ended: datetime | None = None
        self._line_done = threading.Event()
        self._server: threading.Thread | None = None
        self._on_alive = on_alive
        if desk is not None:
            desk.scheduler.on_due = lambda: self._inbox.put(_RemindersDue())

    @property
    def microphone_ok(self) -> bool:
        """For the coordinator's health page: a microphone is there and has not failed."""
        return self._microphone is not None and self._microphone.error is None

    @property
    def problem(self) -> str:
        if self._microphone is None:
            return "no microphone: typed input (simulated)"
        return self._microphone.error.message if self._microphone.error is not None else ""

    def microphone_missing(self, error: CompanionError) -> None:
        """The microphone could not be opened at start-up: the loop starts all the same and keeps trying."""
        if self._microphone is not None:
            self._microphone.lost(error)

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving and end a turn under way, so the models can be closed safely afterwards."""
        self._stop.set()
        if self._player.busy:
            self._player.interrupt()
        if not self._player.wait(timeout):
            log.error("a turn did not end within %.0f s of being interrupted", timeout)
        if self._server is not None:
            self._server.join(timeout)
        if self._microphone is not None:
            self._microphone.join(timeout)

    def run(self) -> None:
        """Serve turns until stopped, or until a finite source (a WAV file, typed text) runs out."""
        missing = self._microphone is not None and self._microphone.error is not None
        self._hardware.light.show(LightPattern.ERROR if missing else LightPattern.IDLE)
        self._hardware.button.when_pressed = lambda: self._inbox.put(ButtonDown())
        self._hardware.button.when_released = lambda: self._inbox.put(ButtonUp())
        if self._microphone is None:
            # Typed input is read on this (the main) thread: a daemon thread blocked reading stdin makes
            # Python abort at exit. The inbox is served on its own thread meanwhile.
            server = threading.Thread(target=self._serve_inbox, name="inbox", daemon=True)
            server.start()
            # Only a started thread is ever joined: a SIGTERM between the two lines would else make
            # close() fail (and the process exit 1) instead of stopping cleanly.
            self._server = server
            self._read_typed(server)
            server.join()
        else:
            self._microphone.start()
            self._serve_inbox()
        self._player.wait()

    def _read_typed(self, server: threading.Thread) -> None:
        """Typed lines instead of speech. An empty line is a press of the button (it acknowledges a
        reminder); each line waits for the reply to it before the prompt comes back."""
        text_input = self._hardware.text_input
        assert text_input is not None, "simulated hardware without a microphone always has typed input"
        while not self._stop.is_set():
            line = text_input.read_line("> ")
            if line is None:
                break
            self._line_done.clear()
            self._inbox.put(_TypedLine(line.strip()))
            while not self._line_done.wait(_POLL_S):
                if self._stop.is_set() or not server.is_alive():
                    return
                self._alive()  # the inbox waits for this line's turn meanwhile
        self._inbox.put(AudioStop())

    def _serve_inbox(self) -> None:
        endpointer = Endpointer(self._settings.listening, self._speech_probability)
        while not self._stop.is_set():
            self._alive()
            try:
                event = self._inbox.get(timeout=_POLL_S)
            except queue.Empty:
                self._speak_due_reminder(endpointer)
                continue
            if isinstance(event, AudioStop):
                for out in endpointer.end_of_stream():
                    self._on_endpoint(out)
                return
            if isinstance(event, _RemindersDue):
                self._reminders_due = True
            elif isinstance(event, _TypedLine):
                self._on_typed_line(event.text)
            elif not self._button_for_player(event):
                for out in endpointer.process(event):
                    self._on_endpoint(out)
            self._speak_due_reminder(endpointer)

    def _alive(self) -> None:
        """The watchdog's heartbeat: this loop turned, no turn is stuck, and the reminders' thread runs."""
        if self._on_alive is None or self._player.running_for() >= WEDGED_TURN_S:
            return
        if self._desk is not None and self._desk.scheduler.stopped_unexpectedly:
            return
        self._on_alive()

    def _play(self, start: Callable[[], None]) -> bool:
        """Start a turn or announcement; a speaker that cannot be opened costs this reply, not the loop."""
        try:
            start()
        except CompanionError as error:
            log.error("could not start speaking: [%s] %s", error.code, error.message)
            self._observers.publish(StageError(error.code.split(".")[0], error.code, error.message))
            return False
        return True

    def _on_typed_line(self, text: str) -> None:
        try:
            if not text:
                self._acknowledge_reminder()
            else:
                self._person_turn_started()
                self._play(lambda: self._player.start_turn(Transcript(text, self._engines.language)))
                self._player.wait()
        finally:
            self._line_done.set()

    def _button_for_player(self, event: Event) -> bool:
        """A press while a turn runs interrupts it, and a press while a reminder waits acknowledges it;
        such a press and its release are not a new turn."""
        if isinstance(event, ButtonDown) and self._acknowledge_reminder():
            self._swallow_release = True
            return True
        if isinstance(event, ButtonDown) and self._player.busy:
            self._player.interrupt()
            self._swallow_release = True
            return True
        if isinstance(event, ButtonDown) and self._microphone is not None and self._microphone.error:
            # Nothing can be heard: say so, rather than listen to silence.
            line = self._engines.phrases.say("microphone_missing")
            self._play(lambda: self._player.announce(line, b"", lambda _completed: None))
            self._swallow_release = True
            return True
        if isinstance(event, ButtonUp) and self._swallow_release:
            self._swallow_release = False
            return True
        return False

    # -- reminders -------------------------------------------------------------------------------------

    def _acknowledge_reminder(self) -> bool:
        if self._desk is None:
            return False
        try:
            if not self._desk.waiting():
                return False
        except CompanionError as error:
            # The database is busy or failing: the press is for talking then, not lost in an error.
            log.error("could not look for a reminder to acknowledge: %s", error)
            return False
        if self._player.busy:
            self._player.interrupt()
        self._player.wait()
        try:
            self._desk.acknowledge()
        except CompanionError as error:
            log.error("could not record the acknowledgement: %s", error)  # it will be said again
        # Always said, not only when the light was last set to the reminder: a turn's light may have
        # taken its place since, and the press must still end the reminder's light.
        self._reminder_light = False
        self._observers.publish(ReminderWaiting(False))
        heard = self._engines.phrases.say("reminder_heard")
        self._play(lambda: self._player.announce(heard, b"", lambda _completed: None))
        return True

    def _speak_due_reminder(self, endpointer: Endpointer) -> None:
        """Between turns only: the person is neither being heard nor spoken to."""
        if self._desk is not None:
            self._show_disk_full(self._desk.ledger.holding)
        if not self._reminders_due or self._desk is None:
            return
        if self._player.busy or endpointer.listening or not self._player.wait(0):
            return
        if self._conversation_goes_on():
            return
        self._reminders_due = False
        try:
            announcement = self._desk.next_announcement()
            if announcement is None:
                self._show_reminder_waiting(self._desk.waiting())
                return
        except CompanionError as error:
            log.error("could not take a due reminder: %s", error)
            return
        self._show_reminder_waiting(True)
        self._turn_started()
        rate = self._engines.synthesizer.rate
        sound = reminder_chime(rate, self._settings.speech.volume)
        self._play(
            lambda: self._player.announce(
                announcement.text, sound, lambda done: self._reminder_spoken(announcement)
            )
        )

    def _reminder_spoken(self, announcement: Announcement) -> None:
        """On the player's thread, once the reminder was said (or cut short by the acknowledging press)."""
        assert self._desk is not None
        try:
            self._desk.spoken(announcement)
        except CompanionError as error:
            log.error("could not record a spoken reminder: %s", error)
        self._inbox.put(_RemindersDue())  # the next one, or the light to show whether one still waits

    def _conversation_goes_on(self) -> bool:
        """Just after the person's turn they may well press again: a reminder then would take that press as
        its acknowledgement. So it waits for a pause in the conversation."""
        assert self._desk is not None
        now = self._desk.scheduler.clock.now()
        if self._person_talked:
            self._person_talked, self._talk_ended = False, now
        pause = timedelta(seconds=self._settings.reminders.pause_after_talk_seconds)
        # A clock moved back makes the pause look negative: that is no reason to wait.
        return self._talk_ended is not None and timedelta(0) <= now - self._talk_ended < pause

    def _person_turn_started(self) -> None:
        self._person_talked = True
        self._turn_started()

    def _turn_started(self) -> None:
        # The turn's light replaces the reminder's; look again once it is over.
        self._reminder_light = False
        self._reminders_due = self._desk is not None

    def _show_disk_full(self, full: bool) -> None:
        """Reminders are said from memory when the database cannot be written: the light shows it."""
        if full != self._disk_full:
            self._disk_full = full
            self._observers.publish(DeviceFault("disk space", missing=full))

    def _show_reminder_waiting(self, waiting: bool) -> None:
        if waiting != self._reminder_light:
            self._reminder_light = waiting
            self._observers.publish(ReminderWaiting(waiting))

    def _on_endpoint(self, event: Event) -> None:
        self._observers.publish(event)
        if isinstance(event, ListeningStarted) and event.mode is ListenMode.HANDS_FREE and self._engines.vad:
            self._engines.vad.reset()  # the detector's memory of an earlier turn must not end this one
        elif isinstance(event, Utterance) and self._long_silent_press(event):
            self._say_pairing_code()
        elif isinstance(event, Utterance):
            self._person_turn_started()
            self._play(lambda: self._player.start_turn(event))

    def _long_silent_press(self, utterance: Utterance) -> bool:
        """The button held for 5 s without a word: the way to ask for a pairing code without speaking."""
        vad = self._engines.vad
        if utterance.reason is not EndReason.RELEASE or utterance.duration_ms < LONG_PRESS_MS or vad is None:
            return False
        vad.reset()
        speech = vad(utterance.audio)
        vad.reset()
        return speech < self._settings.listening.vad_threshold

    def _say_pairing_code(self) -> None:
        decision = self._engines.mind.rules.access.pairing_code(Decision(), self._engines.mind.clock())
        sound = earcon(self._engines.synthesizer.rate, self._settings.speech.volume)
        self._play(lambda: self._player.announce(" ".join(decision.lines), sound, lambda _completed: None))

    def _speech_probability(self, frame: bytes) -> float:
        vad = self._engines.vad
        if vad is None:
            raise RuntimeError("hands-free listening needs the voice activity detector")
        return vad(frame)
