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

A cell is noised once: the draw is kept (in <data_dir>/usage-noise.json, by a hash of the cell and its
true numbers), so asking for the same report again and again cannot average the noise away.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.errors import CompanionError
from companion.usage.measures import DEVICE_HEALTH, WEEKLY_BOUND

LEDGER = "usage-noise.json"


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
    epsilon: float
    ledger: Path | None = None
    """Where the draws are kept; None: fresh noise every time (tests, a report without a data folder)."""
    _drawn: dict[str, list[int]] = field(default_factory=dict)
    _mechanisms: dict[int, Callable[[int], int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epsilon <= 0:
            raise NoiseError(f"ε must be above 0 (it is {self.epsilon}).", "Set [usage] noise_epsilon.")
        if self.ledger is not None and self.ledger.exists():
            try:
                kept: Any = json.loads(self.ledger.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                kept = {}  # a damaged ledger only means fresh draws
            if isinstance(kept, dict):
                self._drawn = {k: v for k, v in kept.items() if isinstance(v, list) and len(v) == 2}

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
        name = hashlib.sha256(f"{self.epsilon}|{period}|{key}|{people}|{total}".encode()).hexdigest()
        if name not in self._drawn:
            self._drawn[name] = [self._mechanism(1)(0), self._mechanism(bound)(0)]
        people_noise, total_noise = self._drawn[name]
        noisy_people = max(0, people + people_noise)
        # A total that is a count of people ("used", the loneliness scores) is that same noisy count.
        noisy_total = noisy_people if total == people and bound == 1 else max(0, total + total_noise)
        # Worked from the noisy numbers only, so no privacy is spent: no people, no total.
        return noisy_people, min(noisy_total, noisy_people * bound)

    def keep(self) -> None:
        """Write the draws, whole or not at all (a crash leaves the old ledger)."""
        if self.ledger is None:
            return
        partial = self.ledger.with_suffix(".partial")
        try:
            partial.write_text(json.dumps(self._drawn, sort_keys=True), encoding="utf-8")
            os.replace(partial, self.ledger)
        except OSError as error:
            raise NoiseError(
                f"Cannot keep the report's noise in {self.ledger}: {error.strerror}.",
                "Without it, reports asked for again would give the noise away: check the data folder.",
            ) from error

    def _mechanism(self, sensitivity: int) -> Callable[[int], int]:
        if sensitivity not in self._mechanisms:
            self._mechanisms[sensitivity] = discrete_laplace(self.epsilon, sensitivity)
        return self._mechanisms[sensitivity]


def noise_for(epsilon: float, data_dir: Path | None) -> Noise | None:
    """The report's noise by the setting: None when it is off (ε = 0)."""
    if epsilon == 0:
        return None
    return Noise(epsilon, data_dir / LEDGER if data_dir is not None else None)
