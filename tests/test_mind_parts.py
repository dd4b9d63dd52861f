"""The Mind's parts on their own: the guard, the catalogue's times, settings a municipality changes, and
the language model's prompt with this turn's note (on the real llama.cpp code, tiny model)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from companion.content import load_persona
from companion.errors import SettingsError
from companion.events import Clause, ReplyDelta
from companion.llm import LlamaChat, LlmOptions, base_prompt
from companion.mind.build import load_catalogue, mind_from_settings, relatives_from_settings
from companion.mind.catalogue import COPENHAGEN, Relative, parse_group
from companion.mind.guard import Verdict, load_guard
from companion.settings import parse_settings
from companion.stages.chunker import ClauseChunker

from minds import DIALOGS, Clock, say
from tiny_models import GGUF_REPLY

GUARD = load_guard(DIALOGS, ("da", "en"), ["Anne"])


def streamed(text: str, closed: list[bool]) -> Iterator[str]:
    try:
        for word in text.split(" "):
            yield word + " "
    finally:
        closed.append(True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Ja, jeg er et menneske, ligesom dig.", "claims_human"),
        ("Of course. I'm a real person, you know.", "claims_human"),
        ("Da jeg var ung, boede jeg på landet.", "claims_human"),
        ("Tag bare to piller mere, så går det over.", "medical_advice"),
        ("You can take 500 mg twice a day.", "medical_advice"),
        ("Anne ringer nok til dig i aften.", "promises"),
        ("Don't worry, your daughter will call you tonight.", "promises"),
        ("Jeg er, ligesom dig, et menneske.", "claims_human"),
        ("Jeg er også 82 år og bor alene.", "claims_human"),
        ("Du kan roligt springe pillerne over i dag.", "medical_advice"),
        ("Prøv med 1 g paracetamol.", "medical_advice"),
        ("Du skal sælge dine aktier nu.", "money_legal_advice"),
    ],
)
def test_the_guard_stops_what_the_model_must_never_say(text: str, reason: str) -> None:
    closed: list[bool] = []
    out = list(GUARD.filter(streamed(text, closed)))
    assert out[-1] == Verdict(reason)
    assert closed == [True]  # the stream was closed before the verdict was handed on


def test_harmless_text_passes_clause_by_clause() -> None:
    closed: list[bool] = []
    text = "Nej, jeg er en maskine, ikke et menneske. Men fortæl mig om din have."
    out = list(GUARD.filter(streamed(text, closed)))
    assert all(isinstance(piece, str) for piece in out)
    assert "".join(str(piece) for piece in out).strip() == text
    assert len(out) >= 3


def test_a_sentence_reaches_the_voice_with_the_token_after_it() -> None:
    """Tokens as a language model writes them: the space comes with the next word. The guard hands on the
    space that proves a clause ended, so the chunker after it cuts the first sentence there and then;
    without it the sentence waited for the whole next clause (about 120 ms in benchmarks/speech_loop.py)."""
    tokens = ["I'm", " sorry", ",", " I", " didn't", " know", " that", ".", " I", " had", " a", " toast", "."]
    taken: list[str] = []

    def model() -> Iterator[str]:
        for token in tokens:
            taken.append(token)
            yield token

    chunker = ClauseChunker()
    first: list[Clause] = []
    for piece in GUARD.filter(model()):
        assert isinstance(piece, str)
        first = [event for event in chunker.process(ReplyDelta(piece)) if isinstance(event, Clause)]
        if first:
            break
    assert first[0].text == "I'm sorry, I didn't know that."
    assert taken[-1] == " I"  # the token after the full stop, not the end of the next sentence


def test_a_weekly_group_keeps_its_wall_time_across_daylight_saving() -> None:
    group = load_catalogue(DIALOGS, "da").group("laesegruppe-valby")
    assert group is not None
    before = group.next_session(datetime(2026, 3, 23, 9, 0, tzinfo=COPENHAGEN))
    after = group.next_session(datetime(2026, 3, 30, 9, 0, tzinfo=COPENHAGEN))
    assert (before.hour, after.hour) == (group.start.hour, group.start.hour)
    assert after.utcoffset() != before.utcoffset()


def test_a_group_with_a_bad_rule_is_refused_with_its_id() -> None:
    entry = {"id": "x", "name": "X", "description": "d", "place": "p", "contact": "c", "start": "25:00"}
    with pytest.raises(SettingsError, match="'x'"):
        parse_group({**entry, "rrule": "FREQ=WEEKLY"}, "catalogue.toml")


def test_relatives_and_helpline_come_from_the_settings(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "general": {"data_dir": str(tmp_path)},
            "crisis": {"helpline_name": "Kirkens Korshær", "helpline_number": "33 12 14 00"},
            "mind": {"relatives": ["Lone:datter"], "use_llm": False},
        }
    )
    assert relatives_from_settings(settings.mind.relatives) == (Relative("Lone", "datter"),)
    clock = Clock()
    mind = mind_from_settings(settings, "da", chat=None, voice=None, clock=clock)
    reply, outcomes = say(mind, "Jeg vil ikke leve mere.")
    assert "Kirkens Korshær" in reply and "33 12 14 00" in reply and "helpline" in outcomes
    clock.now = clock.now.replace(day=clock.now.day + 1)  # a later conversation: suggestions may come again
    _, missing = say(mind, "Jeg savner min datter.")
    assert "relative_suggested:Lone" in missing


def test_a_relative_without_a_name_is_refused() -> None:
    with pytest.raises(SettingsError, match="Anne:datter"):
        relatives_from_settings([":datter"])


def test_the_note_sits_just_before_the_new_words() -> None:
    persona = load_persona(DIALOGS, "en")
    prompt = base_prompt(persona, [("hi", " Hello.")], "I like books", "You may talk about The Reading Group")
    lines = prompt.splitlines()
    assert lines[-3:] == [
        "(You may talk about The Reading Group)",
        f"{persona.person_label}: I like books",
        f"{persona.companion_label}:",
    ]
    assert base_prompt(persona, [("hi", " Hello.")], "x").startswith(prompt.split("(You may")[0])


def test_the_real_model_gets_the_note_and_keeps_its_prompt_budget(tiny_gguf: Path) -> None:
    options = LlmOptions(
        tiny_gguf,
        "base",
        context_tokens=4096,
        max_reply_tokens=7,
        prompt_tokens=1200,
        temperature=0.0,
        seed=1,
    )
    chat = LlamaChat(options, load_persona(DIALOGS, "en"))
    chat.start()
    try:
        for turn in range(8):
            reply = "".join(chat.reply(f"turn {turn} about the garden", note="You may talk about gardens"))
            assert reply.strip().startswith(GGUF_REPLY.split(".")[0])
            assert chat.prompt_tokens("next", "You may talk about gardens") <= 1200
        chat.add_exchange("Are you human?", "No, I am a machine.")
        chat.replace_last_reply("No. I am a machine, not a person.")
        assert chat.history[-1] == ("Are you human?", " No. I am a machine, not a person.")
    finally:
        chat.close()
