"""The rules a parsed model entry must keep: where its files come from and how they lie on disk, so that
model_path() hands each loader what it opens. Broken rules are said with the model and key they concern.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

from companion.errors import ModelError

if TYPE_CHECKING:
    from models.manifest import ModelEntry

MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
STT_BACKENDS = ("faster-whisper", "sherpa-onnx-nemo-ctc")


def check_source(entry: ModelEntry, here: str) -> None:
    if not entry.files:
        fail(here, "files is empty; list at least one [[models.NAME.files]]")
    names = [file.name for file in entry.files]
    if len(set(names)) != len(names):
        fail(here, "two files have the same name")
    if entry.source == "https":
        if entry.package or entry.version or entry.module or entry.assemble or entry.more_packages:
            fail(here, "package, version, module, more_packages and assemble belong to source = 'pypi' only")
        for file in entry.files:
            scheme = urlsplit(file.url).scheme
            # http is tolerated (a local mirror, the tests): the SHA-256 check, not TLS, guards integrity.
            if scheme not in ("https", "http") or file.package_path or file.parts:
                fail(here, f"file '{file.name}' needs an https url (and no package_path or parts)")
        return
    if not (entry.package and entry.version and entry.module):
        fail(here, "source = 'pypi' needs package, version and module")
    if not MODULE.match(entry.module) or (entry.assemble and not entry.assemble.isidentifier()):
        fail(here, "module must be an import name and assemble a function name")
    if entry.joined:
        check_parts(entry, here)
        return
    if entry.more_packages:
        fail(here, "more_packages is only for a model whose files are joined from parts")
    for file in entry.files:
        if file.url:
            fail(here, f"file '{file.name}' has a url, but the model comes from PyPI")
        if entry.assemble:
            if len(entry.files) != 1 or file.package_path:
                fail(here, "an assembled model has exactly one file and no package_path")
            continue
        relative = PurePosixPath(file.package_path)
        if not file.package_path or relative.is_absolute() or ".." in relative.parts:
            fail(here, f"file '{file.name}' needs a package_path inside the package, like 'data/{file.name}'")


def check_parts(entry: ModelEntry, here: str) -> None:
    modules = {pin.module for pin in entry.packages}
    for file in entry.files:
        if file.url or file.package_path or entry.assemble or not file.parts:
            fail(
                here,
                f"file '{file.name}': in a model joined from parts, every file has parts and nothing else",
            )
        for part in file.parts:
            if not isinstance(part, str):
                fail(here, f"file '{file.name}': parts must be a list of \"MODULE/PATH\" texts")
            module, _, inside = part.partition("/")
            relative = PurePosixPath(inside)
            if module not in modules or not inside or relative.is_absolute() or ".." in relative.parts:
                fail(
                    here,
                    f"file '{file.name}': part '{part}' must be MODULE/PATH inside one of the model's "
                    f"packages ({', '.join(sorted(modules))})",
                )


def check_layout(entry: ModelEntry, here: str) -> None:
    """Check the files fit what model_path() hands the loaders: a .gguf, a whisper folder, a piper voice."""
    names = {file.name for file in entry.files}
    if entry.kind == "llm" and len([n for n in names if n.endswith(".gguf")]) != 1:
        fail(here, "an llm needs exactly one .gguf file")
    if entry.kind == "tts":
        voices = [n for n in names if n.endswith(".onnx")]
        if len(voices) != 1 or f"{voices[0]}.json" not in names:
            fail(here, "a tts voice needs exactly one .onnx file and its .onnx.json next to it")
    if entry.backend and (entry.kind != "stt" or entry.backend not in STT_BACKENDS):
        fail(here, f"backend is for an stt model only, one of {', '.join(STT_BACKENDS)}")
    if entry.kind == "stt" and entry.stt_backend == "faster-whisper" and "model.bin" not in names:
        fail(here, "an stt model is a CTranslate2 folder and needs a model.bin file")
    if (
        entry.kind == "stt"
        and entry.stt_backend == "sherpa-onnx-nemo-ctc"
        and not {"model.onnx", "tokens.txt"} <= names
    ):
        fail(here, "a sherpa-onnx NeMo CTC model needs model.onnx and tokens.txt")
    if entry.source == "pypi" and not entry.assemble and not entry.joined:
        folders = {PurePosixPath(file.package_path).parent for file in entry.files}
        mismatched = [f.name for f in entry.files if PurePosixPath(f.package_path).name != f.name]
        # Loaders find the .onnx.json beside the .onnx and whisper's files in one folder.
        if len(folders) != 1 or mismatched:
            fail(here, "files used in place must sit in one package folder, under their own names")


def fail(here: str, problem: str) -> NoReturn:
    raise ModelError(
        f"{here}: {problem}.",
        "Correct the model manifest (or pass --manifest with a correct one).",
    )
