"""Loading what the companion says from dialogs/ (content, not code).

The phrase catalogs and the persona are TOML so a coordinator can edit them; this module turns them into
typed objects once, at start-up, and fails with the file and key named when something is missing.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.errors import SettingsError
from companion.llm import Persona


@dataclass
class Phrases:
    """The fixed lines of one language. Variants of a line are used in turn."""

    language: str
    lines: dict[str, tuple[str, ...]]
    abbreviations: tuple[str, ...] = ()
    _turns: dict[str, Iterator[str]] = field(default_factory=dict, repr=False)

    def say(self, key: str) -> str:
        if key not in self.lines:
            raise SettingsError(
                f"The phrase '{key}' is missing from dialogs/{self.language}/phrases.toml.",
                f"Add a line '{key} = \"…\"' under [phrases].",
            )
        if key not in self._turns:
            self._turns[key] = itertools.cycle(self.lines[key])
        return next(self._turns[key])


def read_toml_file(path: Path, fix: str = "Restore it from the repository.") -> dict[str, Any]:
    """A TOML file of content or scenarios; a missing or broken one is reported with its path."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SettingsError(f"The file {path} is missing.", fix) from error
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}", "Correct the line it names.") from error


def load_phrases(dialogs: Path, language: str) -> Phrases:
    path = dialogs / language / "phrases.toml"
    raw = read_toml_file(path)
    lines: dict[str, tuple[str, ...]] = {}
    for key, value in raw.get("phrases", {}).items():
        variants = (value,) if isinstance(value, str) else tuple(value)
        if not variants or not all(isinstance(v, str) and v.strip() for v in variants):
            raise SettingsError(f"{path}: the phrase '{key}' must be a line of text or a list of lines.")
        lines[key] = variants
    return Phrases(language, lines, tuple(raw.get("abbreviations", ())))


def load_persona(dialogs: Path, language: str) -> Persona:
    path = dialogs / language / "persona.toml"
    raw = read_toml_file(path)
    try:
        examples = tuple((str(e["person"]), str(e["companion"])) for e in raw.get("examples", ()))
        return Persona(
            system=str(raw["system"]),
            person_label=str(raw["person_label"]),
            companion_label=str(raw["companion_label"]),
            examples=examples,
        )
    except KeyError as error:
        raise SettingsError(
            f"{path} lacks the key {error}.", "See dialogs/README.md for the keys."
        ) from error
