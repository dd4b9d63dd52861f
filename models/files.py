"""Small file helpers shared by the verifier, the downloader and the installer."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from companion.errors import ModelError

BLOCK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def human_size(size: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def short_hash(sha256: str) -> str:
    return f"{sha256[:12]}…" if len(sha256) == 64 else sha256


def fsync_dir(folder: Path) -> None:
    """Make a rename durable: without this a power cut can undo it, and a Pi gets unplugged."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def replace_into_place(source: Path, target: Path) -> None:
    """Atomically rename a checked file to where it is used: readers see the old file or the whole new one."""
    with source.open("rb+") as stream:
        os.fsync(stream.fileno())
    os.replace(source, target)
    fsync_dir(target.parent)


def check_free_space(folder: Path, needed: int, what: str) -> None:
    # Leave headroom so a full disk never stops the database or the logs of a running device.
    margin = 50_000_000
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed + margin:
        raise ModelError(
            f"Not enough free disk space in {folder} for {what}: it needs {human_size(needed)}, "
            f"and {human_size(free)} is free.",
            "Free some space (or set general.data_dir to a bigger disk), then run the same command again.",
        )
