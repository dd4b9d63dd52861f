"""The dialog scenarios: the shared files, and our own held-out files, played against the real policy.

tests/scenarios/ and tests/heldout/ were written by people who had not seen the policy's patterns (their
phrasings, dialects of spelling and speech-recognition typos). A scenario the policy still gets wrong is
listed in KNOWN_MISSES with the reason, as a strict xfail: fixing it turns the test red until it is taken
off the list, so the list can only shrink honestly.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from companion.mind.scenarios import Result, play_file, report, run_files

from minds import DIALOGS

ROOT = Path(__file__).parent.parent
SHARED = sorted((ROOT.parent / "shared" / "scenarios").glob("*.toml"))
OURS = sorted((ROOT / "tests" / "scenarios").glob("*.toml")) + sorted(
    (ROOT / "tests" / "heldout").glob("*.toml")
)

KNOWN_MISSES = {
    "int-strikkede": "'i gamle dage' (the conversation group) weighs as much as 'strikkede' (knitting)",
    "en-sched-it": "'at the library' names the reading circle as strongly as 'computer' names the IT café",
    "lonely-long-days-two-turns": "the policy suggests in the first turn; the second turn's 'ja' accepts it",
    "interest-humming-two-turns": "the policy suggests in the first turn; the second turn's 'ja' accepts it",
    "small-rundstykker": "'bageren' meets the catalogue's own interest word 'bage' (a false suggestion)",
    "small-fck-lost": "'København' is one of the story café's own interest words (a false suggestion)",
    "attended-rickshaw-friday": "the group is named by what it does ('cykeltur i rickshawen'), not its name",
    "en-prefers-faces-not-screens": "no physical group in that catalogue is for a natter over coffee",
    "en-reminder-half-nine-tomorrow": "British 'half nine' (9.30) is not in the English time words",
}


def _results(paths: list[Path]) -> list[Result]:
    return [result for path in paths for result in play_file(path, DIALOGS, lambda _language: None)]


@pytest.mark.parametrize("result", _results(SHARED), ids=lambda r: r.scenario.id)
def test_shared_scenarios_pass_without_a_language_model(result: Result) -> None:
    assert result.passed, f"missing {result.missing}, forbidden {result.forbidden}: {result.reply!r}"


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(r, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[r.scenario.id]))
        if r.scenario.id in KNOWN_MISSES
        else r
        for r in _results(OURS)
    ],
    ids=lambda r: r.scenario.id,
)
def test_held_out_scenarios(result: Result) -> None:
    assert result.passed, f"missing {result.missing}, forbidden {result.forbidden}: {result.reply!r}"


HEARING = sorted((ROOT / "tests" / "hearing").glob("*.toml"))


@pytest.mark.parametrize("result", _results(HEARING), ids=lambda r: r.scenario.id)
def test_unsure_hearing_is_asked_about_not_acted_on(result: Result) -> None:
    """Ours, with the `unsure` turns the recogniser's scores would mark (mind/hearing.py)."""
    assert result.passed, f"missing {result.missing}, forbidden {result.forbidden}: {result.reply!r}"


def test_the_held_out_files_are_many_and_mostly_passed() -> None:
    results = _results(OURS)
    assert len(results) >= 500
    assert sum(r.passed for r in results) / len(results) >= 0.97


def test_a_failing_scenario_is_reported_with_its_reason_and_a_nonzero_exit(tmp_path: Path) -> None:
    scenario = tmp_path / "wrong.toml"
    scenario.write_text(
        'now = "2026-03-02T09:00:00"\nlanguage = "da"\n'
        '[[scenario]]\nid = "expects-too-much"\nsay = ["Det er godt nok koldt i dag."]\n'
        'expect = ["helpline"]\n'
        '[[scenario]]\nid = "fine"\nsay = ["Er du et menneske?"]\nexpect = ["discloses_machine"]\n'
    )
    out = io.StringIO()
    status = run_files([scenario], DIALOGS, lambda _language: None, out, verbose=True)
    lines = out.getvalue().splitlines()
    assert status == 1
    assert lines[-1] == "1 passed, 1 failed"
    assert any(line.startswith("FAIL expects-too-much: missing helpline") for line in lines)
    assert "PASS fine" in lines


def test_report_counts_what_it_prints() -> None:
    out = io.StringIO()
    assert report([], out) == (0, 0)
    assert out.getvalue() == "0 passed, 0 failed\n"


def test_eval_dialog_command_passes_the_shared_files() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "companion.cli", "eval-dialog", *map(str, SHARED), "--llm", "none"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"{len(_results(SHARED))} passed, 0 failed"


def test_eval_dialog_names_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "companion.cli", "eval-dialog", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "nope.toml" in done.stderr
