from __future__ import annotations

from pathlib import Path

import pytest

from companion.errors import SettingsError
from companion.settings import (
    Settings,
    config_path,
    documented_fields,
    load_settings,
    parse_settings,
)


def test_defaults_without_any_file() -> None:
    settings = parse_settings({})
    assert settings == Settings()
    assert settings.general.language == "auto"
    assert settings.listening.max_utterance_ms == 30000


def test_file_values_land_in_frozen_dataclasses(tmp_path: Path) -> None:
    path = tmp_path / "companion.toml"
    path.write_text('[general]\nlanguage = "da"\n[llm]\ntemperature = 1\n[hardware]\nbutton_pin = 27\n')
    settings = load_settings(path)
    assert settings.general.language == "da"
    assert settings.llm.temperature == 1.0 and isinstance(settings.llm.temperature, float)
    assert settings.hardware.button_pin == 27
    assert settings.source == str(path)
    with pytest.raises(AttributeError):
        settings.llm.temperature = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "must_mention"),
    [
        ("[llm]\ntemprature = 0.5\n", ["temprature", "Allowed keys", "temperature"]),
        ("[lmm]\nx = 1\n", ["[lmm]", "Allowed sections"]),
        ('[general]\nlanguage = "de"\n', ["language", "'de'", "'da'", "'en'"]),
        ("[llm]\nmax_reply_tokens = 5000\n", ["max_reply_tokens", "5000", "between 8 and 1024"]),
        ('[llm]\nmax_reply_tokens = "many"\n', ["max_reply_tokens", "'many'", "whole number"]),
        ("[speech]\nearcon = 1\n", ["earcon", "true or false"]),
        ("[hardware]\nbutton_pin = true\n", ["button_pin", "whole number"]),
        ("llm = 3\n", ["'llm' must be a section"]),
        ("[llm\n", ["not valid TOML"]),
    ],
)
def test_bad_settings_name_key_value_and_what_is_allowed(
    tmp_path: Path, toml: str, must_mention: list[str]
) -> None:
    path = tmp_path / "companion.toml"
    path.write_text(toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    text = str(caught.value)
    for fragment in must_mention:
        assert fragment in text


def test_search_order(tmp_path: Path) -> None:
    local = tmp_path / "companion.toml"
    assert config_path({}, cwd=tmp_path) in (None, Path("/etc/companion/companion.toml"))
    local.write_text("")
    found = config_path({}, cwd=tmp_path)
    assert found in (local, Path("/etc/companion/companion.toml"))
    explicit = tmp_path / "other.toml"
    explicit.write_text("")
    assert config_path({"COMPANION_CONFIG": str(explicit)}, cwd=tmp_path) == explicit
    with pytest.raises(SettingsError, match="no such file"):
        config_path({"COMPANION_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)


def test_every_setting_is_documented() -> None:
    rows = documented_fields()
    assert len(rows) > 20
    undocumented = [f"{section}.{key}" for section, key, _default, doc in rows if not doc]
    assert undocumented == []


def test_readme_settings_reference_lists_every_key() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    stale = [
        f"{s}.{k}" for s, k, _d, doc in documented_fields() if f"| `{k}` |" not in readme or doc not in readme
    ]
    assert stale == [], "README's settings reference differs from the docstrings in companion/settings.py"


def test_a_language_the_models_do_not_speak_stops_start_up() -> None:
    from companion.engines import spoken_language
    from models import load_manifest

    manifest = load_manifest()
    assert spoken_language(parse_settings({}), manifest) == "en"
    assert spoken_language(parse_settings({"general": {"model_profile": "pi-da"}}), manifest) == "da"
    with pytest.raises(SettingsError, match=r"'da'.*'dev'.*'en'"):
        spoken_language(parse_settings({"general": {"language": "da"}}), manifest)
