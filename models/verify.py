"""Check installed model files against the manifest: size and SHA-256 of every file.

Hashing 1.5 GB takes many seconds on a Pi, so a successful check leaves a stamp (size, mtime, hash) in
<data_dir>/models/verified.json. `companion models list` and `doctor` may trust a stamp whose size and
mtime still match; `companion models verify` and the installer always hash, and drop stamps that lie.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models.files import human_size, sha256_file, short_hash
from models.locate import file_path, models_dir
from models.manifest import Manifest, ModelEntry, ModelFile

logger = logging.getLogger(__name__)

Status = Literal["ok", "unverified", "missing", "corrupt"]
# Worst first: a model's status is that of its worst file.
_SEVERITY: tuple[Status, ...] = ("corrupt", "missing", "unverified", "ok")


@dataclass(frozen=True)
class FileCheck:
    file: str
    path: Path | None
    status: Status
    expected: str = ""
    actual: str = ""

    def describe(self) -> str:
        where = f" ({self.path})" if self.path else ""
        if self.status == "ok":
            return f"{self.file}: ok"
        if self.status == "unverified":
            return f"{self.file}: present, not yet checked{where}"
        if self.status == "missing":
            return (
                f"{self.file} is missing{where}: {self.actual}"
                if self.actual
                else f"{self.file} is missing{where}"
            )
        return f"{self.file} is corrupt{where}: expected {self.expected}, found {self.actual}"


@dataclass(frozen=True)
class VerifyResult:
    model: str
    status: Status
    files: tuple[FileCheck, ...]
    fix: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def problems(self) -> tuple[FileCheck, ...]:
        return tuple(check for check in self.files if check.status != "ok")

    @property
    def summary(self) -> str:
        """One line without the model's name, e.g. "missing config.json" (for `doctor`)."""
        if self.status == "ok":
            return "verified"
        if self.status == "unverified":
            return "present, not yet checked (run: companion models verify)"
        if self.status == "missing":
            return "missing " + ", ".join(check.file for check in self.problems if check.status == "missing")
        worst = next(check for check in self.problems if check.status == "corrupt")
        return f"corrupt: {worst.file} (expected {worst.expected}, found {worst.actual})"

    def describe(self) -> str:
        """Plain English, one line per problem, then the fix."""
        if self.ok:
            return f"{self.model}: ok"
        lines = [f"{self.model}: {self.status}"]
        lines += [f"  {check.describe()}" for check in self.problems]
        if self.status in ("missing", "corrupt"):
            lines.append(f"  Fix: {self.fix}")
        return "\n".join(lines)


def verify_model(
    entry: ModelEntry,
    data_dir: Path,
    *,
    profile_name: str | None = None,
    trust_stamps: bool = False,
    hash_files: bool = True,
) -> VerifyResult:
    """Check every file of `entry` for presence, size and SHA-256.

    trust_stamps: accept an earlier successful check whose size and mtime still match.
    hash_files: when false, files without such a stamp are reported "unverified" instead of hashed.
    """
    stamps = _Stamps.load(data_dir)
    checks = tuple(
        _check_file(entry, file, data_dir, stamps, trust_stamps, hash_files) for file in entry.files
    )
    stamps.save()
    status = next(s for s in _SEVERITY if any(check.status == s for check in checks) or s == "ok")
    command = f"companion models install {profile_name}" if profile_name else "companion models install"
    return VerifyResult(model=entry.name, status=status, files=checks, fix=f"run: {command}")


def verify_profile(
    manifest: Manifest,
    profile_name: str,
    data_dir: Path,
    *,
    trust_stamps: bool = False,
    hash_files: bool = True,
) -> tuple[VerifyResult, ...]:
    return tuple(
        verify_model(
            entry, data_dir, profile_name=profile_name, trust_stamps=trust_stamps, hash_files=hash_files
        )
        for entry in manifest.models_of(profile_name)
    )


def record_verified(data_dir: Path, path: Path, sha256: str) -> None:
    """Remember that `path` was just hashed to `sha256` (by the downloader or the assembler)."""
    stamps = _Stamps.load(data_dir)
    stamps.put(path, path.stat(), sha256)
    stamps.save()


def _check_file(
    entry: ModelEntry, file: ModelFile, data_dir: Path, stamps: _Stamps, trust_stamps: bool, hash_files: bool
) -> FileCheck:
    path = file_path(entry, file, data_dir)
    if path is None:
        return FileCheck(
            file.name, None, "missing", actual=f"the package {entry.pip_requirement} is not installed"
        )
    try:
        info = path.stat()
    except FileNotFoundError:
        return FileCheck(file.name, path, "missing")
    except OSError as error:
        return FileCheck(file.name, path, "missing", actual=f"cannot be read ({error.strerror})")
    if not path.is_file():
        return FileCheck(file.name, path, "corrupt", expected="a file", actual="something else (a folder?)")
    if info.st_size != file.size:
        stamps.drop(path)
        return FileCheck(
            file.name,
            path,
            "corrupt",
            f"{file.size} bytes",
            f"{info.st_size} bytes ({human_size(info.st_size)})",
        )
    if trust_stamps and stamps.get(path, info) == file.sha256:
        return FileCheck(file.name, path, "ok")
    if not hash_files:
        return FileCheck(file.name, path, "unverified")
    try:
        actual = sha256_file(path)
    except OSError as error:
        return FileCheck(file.name, path, "missing", actual=f"cannot be read ({error.strerror})")
    if actual != file.sha256:
        stamps.drop(path)
        logger.warning("%s: sha256 %s, expected %s", path, actual, file.sha256)
        return FileCheck(file.name, path, "corrupt", f"sha256 {file.sha256}", f"sha256 {actual}")
    stamps.put(path, info, actual)
    logger.debug("%s verified (sha256 %s)", path, short_hash(actual))
    return FileCheck(file.name, path, "ok")


class _Stamps:
    """The verified.json cache. Any trouble with it only costs a re-hash, so errors are logged, not raised."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        self._path = path
        self._entries = entries
        self._changed = False

    @classmethod
    def load(cls, data_dir: Path) -> _Stamps:
        path = models_dir(data_dir) / "verified.json"
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            entries = {}
        except (OSError, ValueError) as error:
            logger.warning("ignoring the verification cache %s: %s", path, error)
            entries = {}
        return cls(path, entries if isinstance(entries, dict) else {})

    def get(self, path: Path, info: os.stat_result) -> str | None:
        stamp = self._entries.get(str(path))
        if not isinstance(stamp, dict):
            return None
        if stamp.get("size") != info.st_size or stamp.get("mtime_ns") != info.st_mtime_ns:
            return None
        sha256 = stamp.get("sha256")
        return sha256 if isinstance(sha256, str) else None

    def put(self, path: Path, info: os.stat_result, sha256: str) -> None:
        stamp = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "sha256": sha256}
        if self._entries.get(str(path)) != stamp:
            self._entries[str(path)] = stamp
            self._changed = True

    def drop(self, path: Path) -> None:
        if self._entries.pop(str(path), None) is not None:
            self._changed = True

    def save(self) -> None:
        if not self._changed:
            return
        temporary = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(self._entries, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self._path)
            self._changed = False
        except OSError as error:
            logger.warning("could not save the verification cache %s: %s", self._path, error)
            temporary.unlink(missing_ok=True)
