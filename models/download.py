"""Download one model file: resumable, checked against its size and SHA-256, renamed into place atomically.

Bytes go to `<dest>.part`. A cut connection keeps the .part, and the next run asks the server for the
rest with an HTTP Range request; a server that ignores Range answers 200 and we start over. Only a file
whose size and hash match reaches `dest`, by os.replace, so a loader never sees half a model.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from companion.errors import DownloadError
from models.files import BLOCK, check_free_space, human_size, replace_into_place, sha256_file

logger = logging.getLogger(__name__)

USER_AGENT = "companion-model-installer/1"
RESUME_FIX = "Check the internet connection, then run the same command again: it continues where it stopped."
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class _StartOver(Exception):
    """The partial file cannot be continued (the server refused or misplaced the range)."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def download_file(
    url: str, dest: Path, size: int, sha256: str, progress: bool = False, *, timeout: float = 30.0
) -> None:
    """Fetch `url` to `dest`, which then has exactly `size` bytes hashing to `sha256`.

    Raises DownloadError: on a hash or size mismatch (after deleting the .part), or when the transfer
    stops (keeping the .part, so running the same command again resumes it). `dest` is never touched
    unless the new file checks out.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    for attempt in (1, 2):
        actual, resumed = _fetch_or_restart(url, part, size, progress, timeout)
        if actual == sha256:
            replace_into_place(part, dest)
            logger.info("%s: downloaded and verified (sha256 %s)", dest.name, sha256)
            return
        part.unlink(missing_ok=True)
        if resumed and attempt == 1:
            # The kept bytes may belong to an older file or have been damaged on disk: one clean retry.
            logger.warning("%s: resumed file failed its sha256 check; downloading it again", dest.name)
            continue
        raise DownloadError(
            f"The downloaded {dest.name} is not the expected file: expected sha256 {sha256}, got {actual}. "
            "It was deleted.",
            f"Check that {url} is the file the manifest means (a mirror may be out of date), "
            "then run the same command again.",
        )


def _fetch_or_restart(url: str, part: Path, size: int, progress: bool, timeout: float) -> tuple[str, bool]:
    try:
        return _fetch(url, part, size, progress, timeout)
    except _StartOver as reason:
        logger.info("%s: cannot resume (%s); starting again", part.name, reason)
        part.unlink(missing_ok=True)
    try:
        return _fetch(url, part, size, progress, timeout)
    except _StartOver as reason:
        raise DownloadError(
            f"The server at {url} answered with an unexpected byte range ({reason}).",
            "Check the URL in the model manifest (or your mirror), then run the same command again.",
        ) from None


def _fetch(url: str, part: Path, size: int, progress: bool, timeout: float) -> tuple[str, bool]:
    """Bring `part` to `size` bytes; return its sha256 and whether earlier bytes were kept."""
    offset = part.stat().st_size if part.exists() else 0
    if offset > size:
        part.unlink()
        offset = 0
    if offset == size:
        return sha256_file(part), offset > 0
    check_free_space(part.parent, size - offset, part.name.removesuffix(".part"))
    with _open(url, offset, timeout) as response:
        start = _body_start(response, offset, size, url)
        digest = hashlib.sha256()
        if start:
            with part.open("rb") as kept:
                while block := kept.read(BLOCK):
                    digest.update(block)
        with part.open("ab" if start else "wb") as out:
            received = _stream(response, out, digest, start, size, part, progress)
    if received < size:
        raise DownloadError(
            f"The download of {part.name.removesuffix('.part')} stopped after {human_size(received)} of "
            f"{human_size(size)}: the server closed the connection early.",
            RESUME_FIX,
        )
    return digest.hexdigest(), start > 0


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and offset:
            raise _StartOver(f"the server refused the range from byte {offset}") from None
        fix = "Check the URL in the model manifest (or your mirror), then run the same command again."
        if error.code >= 500:
            fix = "The server has a problem; wait a while, then run the same command again."
        raise DownloadError(f"The server answered {error.code} {error.reason} for {url}.", fix) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"Could not download {url}: {reason}.", RESUME_FIX) from None
    return response


def _body_start(response: http.client.HTTPResponse, offset: int, size: int, url: str) -> int:
    """The byte of the file the response body starts at, after checking the server's headers."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset or match.group(3) not in ("*", str(size)):
            raise _StartOver(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
        return offset
    if response.status != 200:
        raise DownloadError(f"The server answered {response.status} {response.reason} for {url}.")
    if offset:
        logger.info("%s: the server ignored the resume request; starting from the beginning", url)
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) != size:
        raise DownloadError(
            f"The server offers {length} bytes at {url}, but the model manifest expects {size} bytes.",
            "Check the URL in the model manifest (or your mirror), then run the same command again.",
        )
    return 0


def _stream(
    response: http.client.HTTPResponse,
    out: IO[bytes],
    digest: hashlib._Hash,
    start: int,
    size: int,
    part: Path,
    progress: bool,
) -> int:
    # Imported here so that loaders importing `models` for model_path() do not pay for tqdm.
    from tqdm import tqdm

    name = part.name.removesuffix(".part")
    received = start
    bar = tqdm(
        total=size, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
        disable=not progress, file=sys.stderr, leave=True,
    )  # fmt: skip
    with bar:
        while True:
            try:
                # read1 returns what has arrived, so a stall loses nothing already received. One byte
                # past the end is asked for to notice a server sending more than the manifest's size.
                block = response.read1(min(BLOCK, size - received + 1))
            except (OSError, http.client.HTTPException) as error:
                out.flush()
                raise DownloadError(
                    f"The download of {name} stopped after {human_size(received)} of {human_size(size)} "
                    f"({error or type(error).__name__}).",
                    RESUME_FIX,
                ) from None
            if not block:
                return received
            if received + len(block) > size:
                out.close()
                part.unlink(missing_ok=True)
                raise DownloadError(
                    f"The server sent more than the {size} bytes the model manifest expects for {name}.",
                    "Check the URL in the model manifest (or your mirror), then run the same command again.",
                )
            out.write(block)
            digest.update(block)
            received += len(block)
            bar.update(len(block))
