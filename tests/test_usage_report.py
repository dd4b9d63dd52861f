"""Summaries for evaluators: small cells suppressed, and a second cell wherever a total would give a
suppressed one away; the report's CSV, JSON and HTML; no word the person said in any output."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.cli import main
from companion.store.database import Database
from companion.store.schema import DEVICE_HOUSEHOLD
from companion.usage.measures import MEASURES
from companion.usage.report import as_csv, as_html, as_json, cohort_of, import_summaries
from companion.usage.store import consent_of, weekly_counts
from companion.usage.summary import SCHEMA, SummaryError, cohort, device_summary

from minds import make_mind

WEEK = "2026-W10"


def _device(name: str, cells: dict[str, int]) -> dict[str, Any]:
    return {"schema": SCHEMA, "counted": True, "device": name, "weeks": {WEEK: cells}}


def _devices(count: int, cells: dict[str, int], prefix: str) -> list[dict[str, Any]]:
    return [_device(f"{prefix}{n}", {"turns": 3, **cells}) for n in range(count)]


def test_a_cell_of_fewer_people_than_the_setting_is_suppressed() -> None:
    four = cohort(_devices(4, {"sessions_attended": 1}, "a"), [WEEK], min_people=5)
    assert four.cells[WEEK]["sessions_attended"].suppressed and four.cells[WEEK]["used"].suppressed
    five = cohort(_devices(5, {"sessions_attended": 1}, "a"), [WEEK], min_people=5)
    cell = five.cells[WEEK]["sessions_attended"]
    assert (cell.suppressed, cell.people, cell.total) == (False, 5, 5)
    with pytest.raises(SummaryError, match="single someone out"):
        cohort([], [WEEK], min_people=2)


def test_a_suppressed_part_cannot_be_worked_out_from_the_total_and_the_other_parts() -> None:
    summaries = [
        *_devices(6, {"suggestions_offered/group": 2}, "g"),
        *_devices(2, {"suggestions_offered/relative": 1}, "r"),
        *_devices(7, {"suggestions_offered/volunteer": 3}, "v"),
    ]
    table = cohort(summaries, [WEEK], min_people=5).cells[WEEK]
    relative, group = table["suggestions_offered/relative"], table["suggestions_offered/group"]
    assert relative.suppressed and relative.why == "small"
    assert group.suppressed and group.why == "complementary"  # the smaller of the two shown parts
    total, volunteer = table["suggestions_offered/total"], table["suggestions_offered/volunteer"]
    assert not total.suppressed and not volunteer.suppressed
    assert total.total - volunteer.total == relative.total + group.total  # two unknowns, one equation


def test_a_total_that_would_reveal_its_only_small_part_is_suppressed_itself() -> None:
    summaries = [*_devices(6, {"errors/stt": 1}, "s"), *_devices(2, {"errors/tts": 1}, "t")]
    table = cohort(summaries, [WEEK], min_people=5).cells[WEEK]
    assert table["errors/tts"].suppressed and table["errors/stt"].suppressed
    assert not table["errors/total"].suppressed  # two hidden parts: the total alone tells neither
    only = cohort(_devices(6, {}, "x") + _devices(2, {"errors/tts": 1}, "t"), [WEEK], min_people=5)
    assert only.cells[WEEK]["errors/total"].suppressed  # else the total would be the hidden part


# The report's own words (measure names, titles) are not the person's: a generated word may not be one.
WEB = Path(__file__).parent.parent / "companion" / "web"
OWN_WORDS = " ".join(
    [
        as_html(cohort([], [WEEK], 5)),
        as_json(cohort([], [WEEK], 5)),
        str(MEASURES),
        '"schema" "counted" "device" "weeks"',  # a device summary's own keys
        # Everything the evaluator's page can show: its templates and their translations.
        *(path.read_text(encoding="utf-8") for path in sorted((WEB / "templates").glob("*.html"))),
        *(path.read_text(encoding="utf-8") for path in sorted((WEB / "locale").rglob("*.po"))),
    ]
).lower()
WORD = st.text(alphabet=string.ascii_lowercase, min_size=7, max_size=12).filter(lambda w: w not in OWN_WORDS)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(words=st.lists(WORD, min_size=3, max_size=8))
def test_no_output_holds_a_word_the_person_said(evaluator: tuple[TestClient, Path], words: list[str]) -> None:
    from companion.mind.consent import UsageConsent
    from companion.usage.observer import UsageObserver

    mind = make_mind()
    engine = mind.rules.agenda.book.engine
    UsageConsent(engine, mind.phrases).grant(mind.clock())
    observer = UsageObserver(
        engine, DEVICE_HOUSEHOLD, lambda: mind.clock().replace(tzinfo=None), lambda _id: "group"
    )
    from companion.events import ReplyDone, Transcript

    sentences = [
        *("Hej", "Ja", "Ofte", "Af og til", "Ofte"),  # the loneliness questions: the first turn asks leave
        f"Jeg hedder {words[0]} og min datter {words[1]} kommer i morgen",
        f"Jeg er så ensom, {words[2]}",
        f"Mind mig om {' '.join(words)} i morgen klokken ti",
        "Ja",
        f"Jeg var til {words[-1]} i går",
    ]
    for number, sentence in enumerate(sentences):
        if number == 5:
            mind.end_conversation()
        observer(Transcript(sentence, "da"))
        for event in mind.respond(Transcript(sentence, "da")):
            if isinstance(event, ReplyDone):
                observer(event)
    observer.close()
    weeks = ["2026-W09", "2026-W10"]
    summary = json.dumps(device_summary(engine, DEVICE_HOUSEHOLD, weeks))
    assert '"turns": 10' in summary and "loneliness_score/8" in summary  # it did count
    table = cohort([json.loads(summary)], weeks, min_people=3)
    outputs = [summary, as_csv(table), as_json(table), as_html(table), repr(weekly_counts(engine, 1, weeks))]
    outputs += _evaluator_sees(json.loads(summary), evaluator)
    for text in outputs:
        lowered = text.lower()
        assert not [word for word in words if word in lowered]


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """An evaluator signed in to the web page (numbers about 3 people shown), and its data folder."""
    from companion.settings import UsageSettings

    from minds import MONDAY_MORNING
    from web_pages import signed_in

    folder = tmp_path_factory.mktemp("evaluation")
    april = MONDAY_MORNING + timedelta(weeks=5)  # the first quarter has ended: its scores are shown
    with Database(folder) as database:
        usage = UsageSettings(min_people=3)
        yield signed_in(database, "evaluator", "eva@uni.dk", april, usage), folder


def _evaluator_sees(summary: dict[str, Any], evaluator: tuple[TestClient, Path]) -> list[str]:
    """The evaluator's page and CSV, with the summary imported as three devices (so numbers are shown)."""
    client, folder = evaluator
    files = []
    for number in range(3):
        files.append(folder / f"device{number}.json")
        files[-1].write_text(json.dumps({**summary, "device": f"d{number}"}))
    import_summaries(folder, files)  # the same three devices each time: each import replaces the last
    page, numbers = client.get("/evaluation").text, client.get("/evaluation.csv").text
    assert "Ensomhedsscore" in page and "2026-Q1,loneliness_score/8,3,3," in numbers  # numbers are shown
    return [page, numbers]


def test_the_report_commands_export_import_and_write_html(tmp_path: Path) -> None:
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path}"\n[usage]\nmin_people = 3\n')
    others = []
    for n in range(4):
        path = tmp_path / f"device{n}.json"
        path.write_text(json.dumps(_device(f"d{n}", {"turns": 4 + n, "sessions_attended": 1})))
        others.append(str(path))
    refused = tmp_path / "no.json"
    refused.write_text(json.dumps({"schema": SCHEMA, "counted": False, "device": "", "weeks": {}}))
    assert main(["--config", str(config), "report", "import", *others, str(refused)]) == 0
    assert len(list((tmp_path / "usage").glob("*.json"))) == 4
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(_device("x", {"turns": 1, "what she said": 3})))
    assert main(["--config", str(config), "report", "import", str(broken)]) == 1

    out = tmp_path / "report.html"
    with Database(tmp_path) as database:
        table = cohort_of(database.engine, DEVICE_HOUSEHOLD, tmp_path, [WEEK], 3)
        assert table.devices == 4 and consent_of(database.engine, DEVICE_HOUSEHOLD) is None
    assert table.cells[WEEK]["turns"].total == 4 + 5 + 6 + 7
    assert (
        main(["--config", str(config), "report", "--weeks", "2", "--format", "html", "--out", str(out)]) == 0
    )
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 5
    exported = tmp_path / "mine.json"
    assert main(["--config", str(config), "report", "export", "--out", str(exported)]) == 0
    assert json.loads(exported.read_text()) == {"schema": SCHEMA, "counted": False, "device": "", "weeks": {}}
    assert import_summaries(tmp_path, [exported]) == []


def test_a_simulated_week_in_twelve_households_gives_a_readable_report() -> None:
    from usage_week import WEEK as SIMULATED
    from usage_week import simulate_week

    summaries = simulate_week(12)
    table = cohort(summaries, [SIMULATED], min_people=5)
    cells = table.cells[SIMULATED]
    assert table.devices == 12 and cells["used"].people == 12
    assert (
        cells["conversations/total"].total > 50 and cells["turns"].total > cells["conversations/total"].total
    )
    assert cells["suggestions_offered/total"].total > 0 and not cells["suggestions_offered/total"].suppressed
    assert cells["reminders_acknowledged"].total + cells["reminders_missed"].total == 12 * 7
    assert any(cell.suppressed for cell in cells.values())  # the rare things stay hidden
    scale = table.quarters["2025-Q4"]
    assert (scale["loneliness_score/5"].people, scale["loneliness_score/8"].people) == (6, 6)
    assert scale["loneliness_score/total"].people == 12 and not any(c.suppressed for c in scale.values())
    page = as_html(table)
    assert page.count("<svg") == 5 and page.count("<rect") >= 8
    assert "Loneliness score by quarter" in page


def test_too_few_devices_hide_every_number_and_two_small_parts_are_not_left_beside_a_total() -> None:
    few = cohort(_devices(4, {}, "f"), [WEEK], min_people=5).cells[WEEK]
    assert all(cell.suppressed for cell in few.values())  # even a zero would say who did nothing
    summaries = [
        *_devices(6, {"suggestions_offered/group": 2}, "g"),
        *_devices(2, {"suggestions_offered/relative": 1, "suggestions_offered/volunteer": 1}, "rv"),
    ]
    table = cohort(summaries, [WEEK], min_people=5).cells[WEEK]
    # The same two people behind both small parts: their sum is the total minus the group's, unless that
    # is hidden too.
    assert table["suggestions_offered/group"].why == "complementary"
    assert not table["suggestions_offered/total"].suppressed


def _scored(name: str, scores: dict[str, int]) -> dict[str, Any]:
    """A device whose person answered the loneliness questions in the given weeks (week → score)."""
    weeks: dict[str, dict[str, int]] = {
        week: {f"loneliness_score/{score}": 1} for week, score in scores.items()
    }
    return {"schema": SCHEMA, "counted": True, "device": name, "weeks": weeks}


def test_loneliness_scores_are_shown_by_quarter_each_person_once_with_their_latest_score() -> None:
    summaries = [
        *(_scored(f"a{n}", {"2026-W02": 8, "2026-W12": 6}) for n in range(5)),  # asked twice in Q1
        *(_scored(f"b{n}", {"2026-W05": 4}) for n in range(6)),
        *(_scored(f"c{n}", {"2026-W15": 9}) for n in range(5)),
    ]
    table = cohort(summaries, ["2026-W14", "2026-W15"], min_people=5)
    assert list(table.quarters) == ["2026-Q1"]  # the second quarter is still running: not shown
    scale = table.quarters["2026-Q1"]
    assert scale["loneliness_score/6"].people == 5 and scale["loneliness_score/8"].people == 0
    assert scale["loneliness_score/4"].people == 6 and scale["loneliness_score/total"].people == 11
    assert all("loneliness" not in key for key in table.cells["2026-W15"])  # never week by week
    csv_rows = as_csv(table).splitlines()
    assert "2026-Q1,loneliness_score/6,5,5," in csv_rows
    assert json.loads(as_json(table))["quarters"] == ["2026-Q1"]


def test_a_small_score_is_hidden_and_so_is_another_beside_the_total_of_those_who_answered() -> None:
    summaries = [
        *(_scored(f"a{n}", {"2026-W10": 5}) for n in range(7)),
        *(_scored(f"b{n}", {"2026-W10": 7}) for n in range(6)),
        _scored("lonely", {"2026-W10": 9}),
    ]
    scale = cohort(summaries, ["2026-W14"], min_people=5).quarters["2026-Q1"]
    assert scale["loneliness_score/9"].why == "small"
    assert scale["loneliness_score/7"].why == "complementary"  # else 14 - 7 - 6 would give her score away
    assert not scale["loneliness_score/total"].suppressed and not scale["loneliness_score/5"].suppressed
    few = cohort([_scored(f"f{n}", {"2026-W10": 5}) for n in range(4)], ["2026-W14"], 5).quarters["2026-Q1"]
    assert all(cell.suppressed for cell in few.values())


def test_a_device_exports_the_weeks_asked_for_and_the_loneliness_scores_of_the_quarters_shown(
    tmp_path: Path,
) -> None:
    from datetime import date

    from companion.usage.store import add, decide

    with Database(tmp_path) as database:
        engine = database.engine
        decide(engine, DEVICE_HOUSEHOLD, True, date(2026, 1, 5))
        add(engine, DEVICE_HOUSEHOLD, date(2026, 1, 6), {("loneliness_score", "7"): 1, ("turns", ""): 5})
        add(engine, DEVICE_HOUSEHOLD, date(2026, 4, 7), {("turns", ""): 2})
        summary = device_summary(engine, DEVICE_HOUSEHOLD, ["2026-W15"])
    assert summary["weeks"] == {"2026-W02": {"loneliness_score/7": 1}, "2026-W15": {"turns": 2}}


def test_a_quarter_still_running_is_not_shown_so_a_new_answer_cannot_be_told_by_difference() -> None:
    before = [*(_scored(f"a{n}", {"2026-W10": 5}) for n in range(7))]
    after = [*before, _scored("new", {"2026-W11": 9})]
    for summaries in (before, after):
        table = cohort(summaries, ["2026-W10", "2026-W11"], min_people=5)
        assert list(table.quarters) == ["2025-Q4"]  # the last ended quarter only
    assert cohort(after, ["2026-W14"], 5).quarters["2026-Q1"]["loneliness_score/9"].suppressed
    every_week = cohort(before, ["2026-W10"], 5).cells["2026-W10"]
    assert "helpline_given" in every_week and "errors/audio" in every_week  # zeros are shown too
    rows = as_csv(cohort(after, ["2026-W14"], 5)).splitlines()
    assert "2026-Q1,loneliness_score/9,,,yes" in rows  # hidden, without saying why
