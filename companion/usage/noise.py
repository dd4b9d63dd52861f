"""Optional differential-privacy noise on a cohort's numbers, from OpenDP (`[usage] noise_epsilon` > 0).

Every number shown gets integer noise from OpenDP's Laplace mechanism on integers — the discrete Laplace
distribution, P(noise = k) = (e^(1/s) − 1) / (e^(1/s) + 1) · e^(−|k|/s) with scale s = Δ/ε — where Δ is
how much one person can change the number: 1 for a count of people, and the measure's weekly bound
(measures.WEEKLY_BOUND) for a total, each person's part of a total being clipped to that bound first.
OpenDP's own privacy map checks that each number costs at most ε. Numbers below zero are shown as 0.

What ε means here: one cell of the report is ε-differentially private for one person. A person is in
many cells (every measure, every week), and the costs add up. The device's own health (minutes up,
minutes without a microphone, errors) is not about the person and gets no noise. Suppression of small
cells is still decided on the true numbers: the noise is a second layer, against working a person out
by comparing reports, not a replacement for it.

A cell is noised once: the draw is kept (in <data_dir>/usage-noise.json, owner-only, named by an HMAC of
the cell and its true numbers under a secret key beside it), so asking for the same report again and again
cannot average the noise away. A missing or damaged record stops the report rather than drawing anew.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from companion.errors import CompanionError
from companion.usage.measures import DEVICE_HEALTH, WEEKLY_BOUND

LEDGER = "usage-noise.json"
KEY = "usage-noise.key"
LOCK = ".usage-noise.lock"


class NoiseError(CompanionError):
    code = "usage.noise"


def discrete_laplace(epsilon: float, sensitivity: int) -> Callable[[int], int]:
    """OpenDP's mechanism for a number one person can change by `sensitivity`: the number in, the number
    plus discrete Laplace noise of scale sensitivity/ε out."""
    try:
        import opendp.prelude as dp
    except ImportError as error:
        raise NoiseError(
            "Noise on the report needs OpenDP, which is not installed.",
            "Install it with: .venv/bin/pip install -e '.[evaluation]' — or set [usage] noise_epsilon = 0.",
        ) from error
    dp.enable_features("contrib")
    mechanism = dp.m.make_laplace(
        dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=sensitivity / epsilon
    )
    spent = float(mechanism.map(sensitivity))  # type: ignore[no-untyped-call]
    if spent > epsilon * (1 + 1e-9):
        raise NoiseError(f"OpenDP says one cell costs ε = {spent}, more than the {epsilon} set.")
    return lambda value: int(mechanism(value))


@dataclass
class Noise:
    """The noise of one report. With a data folder, use it as a context manager: the draws kept are read,
    and the new ones written, under a lock (two evaluators asking at once must not lose or mix draws)."""

    epsilon: float
    folder: Path | None = None
    """Where the draws and their secret key are kept; None: fresh noise every time (tests)."""
    _drawn: dict[str, list[int]] = field(default_factory=dict)
    _mechanisms: dict[int, Callable[[int], int]] = field(default_factory=dict)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _changed: bool = False
    _lock: IO[str] | None = None

    def __post_init__(self) -> None:
        if self.epsilon <= 0:
            raise NoiseError(f"ε must be above 0 (it is {self.epsilon}).", "Set [usage] noise_epsilon.")

    def __enter__(self) -> Noise:
        if self.folder is None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = (self.folder / LOCK).open("a")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            self._read()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None and self._changed:
                self._write()
        finally:
            self._unlock()

    @staticmethod
    def sensitivity(key: str) -> int | None:
        """How much one person can change the cell's total; None when the cell gets no noise."""
        measure = key.split("/")[0]
        if measure in DEVICE_HEALTH:
            return None
        return WEEKLY_BOUND.get(measure, 1)  # "used": a person talked with it that week, or not

    def clip(self, key: str, value: int) -> int:
        """One person's part of a cell, at most the measure's bound."""
        bound = self.sensitivity(key)
        return value if bound is None else min(value, bound)

    def noised(self, period: str, key: str, people: int, total: int) -> tuple[int, int]:
        """The cell's people and total with noise (each at least 0), the same for the same true numbers."""
        bound = self.sensitivity(key)
        if bound is None:
            return people, total
        # Keyed with a secret: the ledger must not let anyone try true numbers until one matches.
        cell = f"{self.epsilon}|{period}|{key}|{people}|{total}".encode()
        name = hmac.new(self._key, cell, hashlib.sha256).hexdigest()
        if name not in self._drawn:
            self._drawn[name] = [self._mechanism(1)(0), self._mechanism(bound)(0)]
            self._changed = True
        people_noise, total_noise = self._drawn[name]
        noisy_people = max(0, people + people_noise)
        # A total that is a count of people ("used", the loneliness scores) is that same noisy count.
        noisy_total = noisy_people if total == people and bound == 1 else max(0, total + total_noise)
        # Worked from the noisy numbers only, so no privacy is spent: no people, no total.
        return noisy_people, min(noisy_total, noisy_people * bound)

    def _read(self) -> None:
        assert self.folder is not None
        key_file, ledger = self.folder / KEY, self.folder / LEDGER
        if not key_file.exists():
            if ledger.exists():
                raise _damaged(ledger, "its key is missing")
            return  # the first report with noise: a new key, written with the first draws
        try:
            self._key = bytes.fromhex(key_file.read_text(encoding="ascii").strip())
            kept: Any = json.loads(ledger.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise _damaged(ledger, str(error)) from error
        if not isinstance(kept, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(type(n) is int for n in v) for v in kept.values()
        ):
            raise _damaged(ledger, "it is not a record of draws")
        self._drawn = kept

    def _write(self) -> None:
        assert self.folder is not None
        try:
            key_file = self.folder / KEY
            if not key_file.exists():
                _write_private(key_file, self._key.hex())
            _write_private(self.folder / LEDGER, json.dumps(self._drawn, sort_keys=True))
        except OSError as error:
            raise NoiseError(
                f"Cannot keep the report's noise in {self.folder}: {error.strerror}.",
                "Without it, reports asked for again would give the noise away: check the data folder.",
            ) from error

    def _unlock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _mechanism(self, sensitivity: int) -> Callable[[int], int]:
        if sensitivity not in self._mechanisms:
            self._mechanisms[sensitivity] = discrete_laplace(self.epsilon, sensitivity)
        return self._mechanisms[sensitivity]


def _write_private(path: Path, text: str) -> None:
    """Readable by the owner only, and whole or not at all (a crash leaves the old file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, path)


def _damaged(ledger: Path, why: str) -> NoiseError:
    return NoiseError(
        f"The record of the reports' noise ({ledger}) cannot be used: {why}. No report is made without it,"
        " as fresh noise on numbers shown before could be averaged away.",
        f"Restore {ledger.name} and {KEY} from a backup of the data folder. To start afresh knowingly"
        " (reports made before can then be compared with new ones), delete both.",
    )


def noise_for(epsilon: float, data_dir: Path | None) -> Noise | None:
    """The report's noise by the setting: None when it is off (ε = 0)."""
    if epsilon == 0:
        return None
    return Noise(epsilon, data_dir)
