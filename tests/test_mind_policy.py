"""The policy over whole conversations: caps and back-off, memory with consent, follow-ups, reminders said
back, the voice, crisis without a model, and what is (and is not) kept on disk."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from companion.errors import MindError
from companion.mind.memory import FileStore, MemoryStore, MindState

from minds import Clock, make_mind, reminders, say


class ScriptedChat:
    """A language model that says what the test tells it to, and records what it was given."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies) or ["Det lyder rart."]
        self.prompts: list[tuple[str, str]] = []
        self.history: list[tuple[str, str]] = []
        self.closed = 0

    def reply(self, user_text: str, note: str = "") -> Iterator[str]:
        self.prompts.append((user_text, note))
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        try:
            for word in text.split(" "):
                yield word + " "
        finally:
            self.closed += 1
            self.history.append((user_text, text))

    def add_exchange(self, user_text: str, reply: str) -> None:
        self.history.append((user_text, reply))

    def replace_last_reply(self, reply: str) -> None:
        self.history[-1] = (self.history[-1][0], reply)

    def forget(self) -> None:
        self.history.clear()


class ForbiddenChat(ScriptedChat):
    def reply(self, user_text: str, note: str = "") -> Iterator[str]:
        raise AssertionError("the language model must not be asked")


class RecordingVoice:
    def __init__(self) -> None:
        self.steps: list[tuple[int, int]] = []

    def tune(self, length_scale_step: int, volume_step: int) -> None:
        self.steps.append((length_scale_step, volume_step))


def test_one_suggestion_per_conversation_and_three_per_day() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    _, first = say(mind, "Jeg elsker at læse romaner.")
    _, second = say(mind, "Og så synger jeg gerne.")
    assert "human_next_step" in first and "human_next_step" not in second and "no_nudge" in second
    suggested = 1
    for hour in range(1, 6):
        clock.now += timedelta(hours=1)  # a new conversation each time
        _, outcomes = say(mind, "Jeg føler mig så alene.")
        suggested += "human_next_step" in outcomes
        assert hour <= 2 or "human_next_step" not in outcomes
    assert suggested == 3


def test_two_declines_in_a_week_pause_suggestions_until_the_person_asks() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    for _ in range(2):
        say(mind, "Jeg keder mig sådan.")
        _, declined = say(mind, "Nej tak.")
        assert "suggestion_declined" in declined
        clock.now += timedelta(days=1)
    _, outcomes = say(mind, "Jeg føler mig alene.")
    assert "human_next_step" not in outcomes and "no_nudge" in outcomes
    _, asked = say(mind, "Hvad kan jeg gå til?")
    assert "human_next_step" in asked


def test_leave_me_alone_is_kept_across_a_restart_and_no_words_are_written(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "mind.json")
    _, outcomes = say(make_mind(store=store), "Lad mig være i fred med de grupper.")
    assert "no_nudge" in outcomes
    kept = (tmp_path / "mind.json").read_text(encoding="utf-8")
    assert json.loads(kept)["paused_until_asked"] is True
    assert "grupper" not in kept and "fred" not in kept
    _, later = say(make_mind(store=FileStore(tmp_path / "mind.json")), "Jeg elsker at synge.")
    assert "human_next_step" not in later


def test_an_interest_is_kept_only_after_a_yes_and_forgotten_on_request() -> None:
    store = MemoryStore()
    mind = make_mind(store=store)
    say(mind, "Jeg elsker at læse romaner.")
    reply, _ = say(mind, "Nej tak.")  # no reminder: and no question to remember either, after a decline
    assert store.state.profile.interests == []
    mind = make_mind(store=MemoryStore())
    say(mind, "Jeg elsker at læse romaner.")
    reply, outcomes = say(mind, "Ja tak.")
    assert "reminder_created:2026-03-05T14:00" in outcomes
    assert "læsning" in reply  # "Må jeg huske, at du holder af læsning?"
    _, saved = say(mind, "Ja, det må du godt.")
    assert "profile_saved:interest" in saved
    assert mind.state.profile.interests == ["læsning"]
    _, forgotten = say(mind, "Glem det hele.")
    assert "profile_forgotten" in forgotten and mind.state.profile.interests == []


def test_a_relative_named_by_voice_is_kept_only_after_a_yes() -> None:
    store = MemoryStore()
    mind = make_mind(store=store, relatives=())
    reply, _ = say(mind, "Min nevø Mikkel kommer på søndag.")
    assert reply == "Må jeg huske, at din nevø hedder Mikkel?"
    assert store.state.profile.relatives == []
    _, saved = say(mind, "Ja, det må du gerne.")
    assert "profile_saved:relative" in saved and store.state.profile.relatives == [("Mikkel", "nevø")]
    _, missing = say(make_mind(store=store, relatives=(), clock=Clock()), "Jeg savner min nevø.")
    assert "relative_suggested:Mikkel" in missing
    _, refused = say(make_mind(relatives=()), "min datter ringer aldrig")  # no name: nothing to ask
    assert "profile_saved:relative" not in refused


def test_the_next_conversation_after_a_session_asks_how_it_went() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    say(mind, "Jeg savner at synge.")
    _, accepted = say(mind, "Ja, gerne.")
    assert "suggestion_accepted" in accepted
    clock.now += timedelta(days=3)  # Thursday: Fællessang met on Wednesday
    reply, outcomes = say(mind, "Godmorgen.")
    assert "follow_up_asked" in outcomes and "Fællessang" in reply
    _, answered = say(mind, "Ja, det var dejligt.")
    assert "attended:yes" in answered
    assert mind.state.follow_ups == []


def test_a_reminder_is_said_back_and_a_no_deletes_it() -> None:
    mind = make_mind()
    reply, outcomes = say(mind, "Mind mig om at ringe til Anne i morgen klokken ti.")
    assert reply.startswith("Jeg minder dig om at ringe til Anne i morgen klokken 10.")
    assert "reminder_created:2026-03-03T10:00" in outcomes
    assert len(reminders(mind)) == 1
    _, cancelled = say(mind, "Nej, det er forkert.")
    assert "reminder_cancelled" in cancelled and reminders(mind) == []


def test_a_day_without_an_hour_is_asked_about_and_the_answer_completes_it() -> None:
    mind = make_mind()
    _reply, outcomes = say(mind, "Kan du minde mig om frisøren på torsdag?")
    assert "clarifies" in outcomes and reminders(mind) == []
    _, done = say(mind, "klokken halv tre")
    assert "reminder_created:2026-03-05T14:30" in done


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("Mind mig om medicinen den 30. februar klokken 10.", "2026-02-28"),
        ("Mind mig om det i går klokken ti.", ""),
    ],
)
def test_a_time_that_does_not_exist_gets_a_question_and_nothing_is_stored(text: str, hour: str) -> None:
    mind = make_mind()
    _, outcomes = say(mind, text)
    assert "clarifies" in outcomes
    assert not any(o.startswith("reminder_created") for o in outcomes)
    assert reminders(mind) == []


def test_the_voice_is_tuned_and_the_choice_kept() -> None:
    voice = RecordingVoice()
    store = MemoryStore()
    mind = make_mind(voice=voice, store=store)
    _, outcomes = say(mind, "Du taler alt for hurtigt.")
    assert "speech_slower" in outcomes and voice.steps[-1] == (1, 0)
    say(mind, "Tal lidt højere, tak.")
    assert voice.steps[-1] == (1, 1)
    later = RecordingVoice()
    make_mind(voice=later, store=store).warm_up()
    assert later.steps == [(1, 1)]


def test_repeat_says_the_last_reply_again_and_the_question_still_waits() -> None:
    mind = make_mind()
    first, _ = say(mind, "Hvornår er der fællessang?")  # … "Skal jeg minde dig om det?"
    again, outcomes = say(mind, "Hvad sagde du?")
    assert again == first and "repeat" in outcomes
    _, slower = say(mind, "Og tal lidt langsommere.")
    assert "speech_slower" in slower
    _, answered = say(mind, "Ja tak.")
    assert "reminder_created:2026-03-04T10:30" in answered


def test_crisis_never_waits_for_the_language_model() -> None:
    chat = ScriptedChat()
    mind = make_mind(chat=chat)
    reply, outcomes = say(mind, "Jeg orker ikke at leve længere.")
    assert "helpline" in outcomes and "70 201 201" in reply and "112" in reply
    assert chat.prompts == []
    _, after = say(mind, "Jeg er så ensom.")  # no suggestion after a crisis: only kindness now
    assert "human_next_step" not in after


def test_small_talk_goes_to_the_model_with_a_short_note_and_a_short_text() -> None:
    chat = ScriptedChat("Det lyder rart. Fortæl mere.")
    mind = make_mind(chat=chat)
    monologue = " ".join(["og så gik vi ned til havnen"] * 120)  # a long story, over 800 words
    reply, outcomes = say(mind, monologue)
    assert "small_talk" in outcomes and reply.strip() == "Det lyder rart. Fortæl mere."
    sent, note = chat.prompts[-1]
    assert len(sent.split()) == 60 and note == ""


def test_the_guard_replaces_a_claim_to_be_human_and_stops_the_model() -> None:
    chat = ScriptedChat("Ja, jeg er et rigtigt menneske, og jeg bor i Valby.")
    mind = make_mind(chat=chat)
    reply, outcomes = say(mind, "Det er godt nok koldt i dag.")
    assert "menneske" not in reply.replace("ikke et menneske", "")
    assert {"discloses_machine", "guard_replaced:claims_human"} <= outcomes
    assert chat.closed == 1
    assert "Valby" not in chat.history[-1][1]  # the model's next prompt shows what was really said


def test_without_a_model_small_talk_is_a_kind_fixed_line() -> None:
    mind = make_mind(chat=None)
    reply, outcomes = say(mind, "Det er godt nok koldt i dag.")
    assert reply and outcomes == {"small_talk", "no_nudge"}


@pytest.mark.parametrize("text", ["", "   ", "øh", "hm hm", "...", "🙂"])
def test_empty_or_garbled_input_gets_a_short_answer(text: str) -> None:
    reply, outcomes = say(make_mind(chat=ForbiddenChat()), text)
    assert reply and outcomes & {"nothing_heard", "clarifies"}


def test_a_full_disk_is_an_error_and_nothing_is_half_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(_source: object, _target: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    mind = make_mind(store=FileStore(tmp_path / "mind.json"))
    monkeypatch.setattr("companion.mind.memory.os.replace", disk_full)
    with pytest.raises(MindError, match="disk is not full"):
        say(mind, "Lad mig være i fred.")
    assert mind.state.paused_until_asked is False  # RAM holds what the disk holds
    assert list(tmp_path.iterdir()) == []  # no half-written file left behind


def test_an_unreadable_memory_is_set_aside_and_the_companion_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "mind.json"
    path.write_text("{ not json")
    assert FileStore(path).load() == MindState()
    assert (tmp_path / "mind.broken.json").read_text() == "{ not json"


def test_english_works_the_same_way() -> None:
    mind = make_mind("en")
    reply, outcomes = say(mind, "Are you a real person?", "en")
    assert "discloses_machine" in outcomes and "machine" in reply
    _, reminder = say(mind, "Remind me to call Tom tomorrow at 11.", "en")
    assert "reminder_created:2026-03-03T11:00" in reminder


def test_what_is_on_today_tells_own_reminders_from_what_groups_offer() -> None:
    mind = make_mind()
    say(mind, "Mind mig om at tage medicin i dag klokken 15.")
    reply, outcomes = say(mind, "Hvad skal jeg i dag?")
    assert "answers_today" in outcomes
    assert "I dag klokken 15 skal du huske at tage medicin." in reply
    assert "mødes" in reply  # the catalogue's sessions today are offered, not claimed as the person's


def test_a_group_already_chosen_is_not_offered_again_in_a_later_conversation() -> None:
    clock = Clock()
    mind = make_mind(clock=clock)
    say(mind, "Jeg savner at synge.")
    say(mind, "Ja, gerne.")  # a reminder for Fællessang on Wednesday
    clock.now += timedelta(hours=1)
    _, outcomes = say(mind, "Jeg synger stadig hver dag.")
    assert "group_suggested:faellessang" not in outcomes
