"""dialogs/ is content: every language must say every line, and the persona must load."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.content import load_persona, load_phrases
from companion.errors import SettingsError

DIALOGS = Path(__file__).parent.parent / "dialogs"
LANGUAGES = ["da", "en"]


def test_every_language_has_every_phrase() -> None:
    keys = {language: set(load_phrases(DIALOGS, language).lines) for language in LANGUAGES}
    assert keys["da"] == keys["en"]
    assert {"nothing_heard", "no_reply", "something_went_wrong", "ready"} <= keys["da"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_persona_loads_with_examples(language: str) -> None:
    persona = load_persona(DIALOGS, language)
    assert persona.system.strip() and persona.person_label and persona.companion_label
    assert len(persona.examples) >= 2


def test_variants_are_used_in_turn() -> None:
    phrases = load_phrases(DIALOGS, "da")
    first, second, third = (phrases.say("nothing_heard") for _ in range(3))
    assert first != second and third == first


def test_danish_lines_are_short_for_the_ear() -> None:
    phrases = load_phrases(DIALOGS, "da")
    for key, variants in phrases.lines.items():
        for line in variants:
            for sentence in line.replace("?", ".").replace("!", ".").split("."):
                assert len(sentence.split()) <= 14, f"{key}: '{sentence.strip()}' is a long sentence to hear"


def test_a_missing_phrase_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "da").mkdir()
    (tmp_path / "da" / "phrases.toml").write_text('[phrases]\nready = "Klar."\n')
    phrases = load_phrases(tmp_path, "da")
    with pytest.raises(SettingsError, match=r"nothing_heard.*dialogs/da/phrases\.toml"):
        phrases.say("nothing_heard")


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "persona.toml").write_text("system = \n")
    with pytest.raises(SettingsError, match=r"persona\.toml"):
        load_persona(tmp_path, "en")
