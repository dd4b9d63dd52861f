"""Summaries for evaluators: small cells suppressed, and a second cell wherever a total would give a
suppressed one away; the report's CSV, JSON and HTML; no word the person said in any output."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
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
OWN_WORDS = as_html(cohort([], [WEEK], 5)) + str(MEASURES)
WORD = st.text(alphabet=string.ascii_lowercase, min_size=7, max_size=12).filter(lambda w: w not in OWN_WORDS)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(words=st.lists(WORD, min_size=3, max_size=8))
def test_no_output_holds_a_word_the_person_said(words: list[str]) -> None:
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
        f"Jeg hedder {words[0]} og min datter {words[1]} kommer i morgen",
        f"Jeg er så ensom, {words[2]}",
        f"Mind mig om {' '.join(words)} i morgen klokken ti",
        "Ja",
        f"Jeg var til {words[-1]} i går",
    ]
    for sentence in sentences:
        observer(Transcript(sentence, "da"))
        for event in mind.respond(Transcript(sentence, "da")):
            if isinstance(event, ReplyDone):
                observer(event)
    observer.close()
    weeks = ["2026-W09", "2026-W10"]
    summary = json.dumps(device_summary(engine, DEVICE_HOUSEHOLD, weeks))
    assert '"turns": 5' in summary  # it did count
    table = cohort([json.loads(summary)], weeks, min_people=3)
    outputs = [summary, as_csv(table), as_json(table), as_html(table), repr(weekly_counts(engine, 1, weeks))]
    for text in outputs:
        lowered = text.lower()
        assert not [word for word in words if word in lowered]


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
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4
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
    page = as_html(table)
    assert page.count("<svg") == 4 and page.count("<rect") >= 6


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
