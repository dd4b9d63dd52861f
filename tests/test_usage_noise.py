"""Differential-privacy noise on the cohort's numbers (OpenDP): the documented distribution, each cell noised
once, device health exact, suppressed cells still empty, and a plain error without OpenDP."""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from companion.cli import main
from companion.store.database import Database
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.usage.measures import DEVICE_HEALTH, MEASURES, WEEKLY_BOUND
from companion.usage.noise import KEY, LEDGER, Noise, NoiseError, discrete_laplace
from companion.usage.report import as_json, cohort_of, import_summaries
from companion.usage.summary import SCHEMA, cohort

WEEK = "2026-W10"
DRAWS = 20_000


def _pmf(k: int, scale: float) -> float:
    """The discrete Laplace distribution noise.py documents."""
    return (math.exp(1 / scale) - 1) / (math.exp(1 / scale) + 1) * math.exp(-abs(k) / scale)


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(0.5, 1), (1.0, 3)])
def test_the_noise_has_the_documented_distribution(epsilon: float, sensitivity: int) -> None:
    scale = sensitivity / epsilon
    mechanism = discrete_laplace(epsilon, sensitivity)
    draws = [mechanism(0) for _ in range(DRAWS)]
    # Each value's frequency within five standard errors of the formula: fails by chance about once in
    # three million runs per value, and surely when the scale or the shape is wrong.
    for k in range(-6, 7):
        expected = _pmf(k, scale)
        seen = draws.count(k) / DRAWS
        assert abs(seen - expected) < 5 * math.sqrt(expected * (1 - expected) / DRAWS), (k, seen, expected)
    p = math.exp(-1 / scale)
    variance = 2 * p / (1 - p) ** 2
    assert abs(sum(draws) / DRAWS) < 5 * math.sqrt(variance / DRAWS)  # centred on the true number
    mean_square = sum(d * d for d in draws) / DRAWS
    assert abs(mean_square - variance) / variance < 0.15


def _devices(count: int, cells: dict[str, int], prefix: str) -> list[dict[str, Any]]:
    return [
        {"schema": SCHEMA, "counted": True, "device": f"{prefix}{n}", "weeks": {WEEK: {"turns": 3, **cells}}}
        for n in range(count)
    ]


def test_noise_is_added_once_per_cell_and_never_to_hidden_cells_or_the_devices_health(tmp_path: Path) -> None:
    summaries = [
        *_devices(8, {"uptime_minutes": 10_080, "conversations/2-3": 2}, "a"),
        *_devices(2, {"sessions_attended": 1}, "b"),
    ]
    with Noise(0.5, tmp_path) as noise:
        first = cohort(summaries, [WEEK], 5, noise).cells[WEEK]
    assert first["sessions_attended"].suppressed and first["sessions_attended"].people == 2  # shown as "–"
    assert first["uptime_minutes"].total == 8 * 10_080  # the device's own health: exact
    for key, cell in first.items():  # a total no larger than its people could make it (none: nothing)
        bound = Noise.sensitivity(key)
        assert cell.people >= 0 and cell.total >= 0 and (bound is None or cell.total <= cell.people * bound)

    for _ in range(3):
        with Noise(0.5, tmp_path) as noise:
            assert cohort(summaries, [WEEK], 5, noise).cells[WEEK] == first  # cannot be averaged away
    fresh = [cohort(summaries, [WEEK], 5, Noise(0.5)).cells[WEEK]["turns"].total for _ in range(12)]
    assert len(set(fresh)) > 1  # without the ledger every report draws anew


def test_the_ledger_is_private_keyed_by_a_secret_and_refused_when_damaged(tmp_path: Path) -> None:
    with Noise(1.0, tmp_path) as noise:
        cohort(_devices(6, {}, "d"), [WEEK], 5, noise)
    ledger, key = tmp_path / LEDGER, tmp_path / KEY
    assert ledger.stat().st_mode & 0o777 == 0o600 and key.stat().st_mode & 0o777 == 0o600
    names = set(json.loads(ledger.read_text()))
    plain = {  # what the names would be without the key, for the true numbers of the cell of turns
        hashlib.sha256(f"1.0|{WEEK}|turns|{people}|{total}".encode()).hexdigest()
        for people in range(10)
        for total in range(40)
    }
    assert names and not names & plain

    ledger.write_text("{not json")
    with pytest.raises(NoiseError, match="cannot be used") as raised, Noise(1.0, tmp_path):
        pass
    assert "backup" in str(raised.value.fix)
    ledger.write_text(json.dumps({"a": ["1", 2]}))
    with pytest.raises(NoiseError, match="not a record"), Noise(1.0, tmp_path):
        pass
    key.unlink()
    ledger.write_text("{}")
    with pytest.raises(NoiseError, match="key is missing"), Noise(1.0, tmp_path):
        pass


def test_two_reports_at_once_keep_every_draw(tmp_path: Path) -> None:
    summaries = _devices(6, {"conversations/1": 4}, "c")
    results: list[dict[str, Any]] = []

    def report() -> None:
        with Noise(1.0, tmp_path) as noise:
            results.append(cohort(summaries, [WEEK], 5, noise).cells[WEEK])

    threads = [threading.Thread(target=report) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result == results[0] for result in results)


def test_a_persons_part_of_a_total_is_clipped_to_the_measures_bound() -> None:
    noise = Noise(1.0)
    assert noise.clip("turns", 1_000) == WEEKLY_BOUND["turns"] and noise.clip("turns", 12) == 12
    assert noise.clip("suggestions_offered/group", 99) == WEEKLY_BOUND["suggestions_offered"]
    assert noise.clip("uptime_minutes", 99_999) == 99_999
    assert set(MEASURES) <= set(WEEKLY_BOUND) | set(DEVICE_HEALTH)  # every measure has a sensitivity
    with pytest.raises(NoiseError, match="above 0"):
        Noise(0.0)


def test_the_report_command_adds_noise_when_the_setting_asks_and_says_so(tmp_path: Path) -> None:
    files = []
    for n, summary in enumerate(_devices(6, {"conversations/1": 4}, "e")):
        files.append(tmp_path / f"e{n}.json")
        files[-1].write_text(json.dumps(summary))
    import_summaries(tmp_path, files)
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path}"\n[usage]\nnoise_epsilon = 1.0\n')
    out = tmp_path / "report.json"
    assert (
        main(["--config", str(config), "report", "--weeks", "1", "--format", "json", "--out", str(out)]) == 0
    )
    assert json.loads(out.read_text())["noise_epsilon"] == 1.0
    assert (tmp_path / LEDGER).exists() and (tmp_path / KEY).exists()
    with Database(tmp_path) as database:
        table = cohort_of(database.engine, DEVICE_HOUSEHOLD, tmp_path, [WEEK], 5, 1.0)
    assert '"noise_epsilon": 1.0' in as_json(table)


def test_without_opendp_the_report_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opendp.prelude", None)  # as if it were not installed
    with pytest.raises(NoiseError, match="needs OpenDP") as raised:
        cohort(_devices(6, {}, "n"), [WEEK], 5, Noise(1.0))
    assert "evaluation" in str(raised.value.fix)


def test_the_evaluators_page_says_plainly_when_the_noise_record_is_damaged(tmp_path: Path) -> None:
    from companion.settings import UsageSettings

    from clocks import utc
    from web_pages import signed_in

    with Database(tmp_path) as database:
        evaluator = signed_in(
            database, "evaluator", "eva@uni.dk", utc("2026-03-02T09:00"), UsageSettings(noise_epsilon=1.0)
        )
        assert evaluator.get("/evaluation").status_code == 200  # the first report keeps its draws
        (tmp_path / LEDGER).write_text("{not json")
        page = evaluator.get("/evaluation")
        assert page.status_code == 503 and "Rapporten kan ikke laves lige nu" in page.text
        assert evaluator.get("/evaluation.csv").status_code == 503
