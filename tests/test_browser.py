"""The web page in a real browser (Playwright driving Debian's chromium) together with the device:

the device says a pairing code → a relative pairs with it on the page → makes a weekly reminder → the
device (simulated hardware, tiny models, a hand-moved clock) speaks it → the mock GPIO button acknowledges
it → the relative's page says it was heard. axe-core checks every page on the way for serious or critical
accessibility problems.

Set COMPANION_SCREENSHOTS=docs/screenshots to also save the pages as PNG files (the README shows them).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from benchmarks.private_postgres import Server
from companion.store.database import Database
from companion.web.app import create_app

from clocks import ManualClock, utc
from running_device import RunningDevice
from web_pages import free_port

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
QUIET = ("--disable-component-update", "--disable-sync", "--no-first-run", "--lang=da-DK")
"""Chromium must not try to reach Google: this machine's network is closed."""
WCAG = "['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']"


@contextmanager
def serving(app: Any, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """The app under uvicorn on a free port, in a thread of this process (on the test's clock), over HTTPS
    with `tls` (certificate, key): its address."""
    import uvicorn

    port = free_port()
    certificate, key = (str(tls[0]), str(tls[1])) if tls else (None, None)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_certfile=certificate, ssl_keyfile=key
    )
    server = uvicorn.Server(config)
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    server.should_exit = True
    runner.join(10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, ManualClock, Path]]:
    """`companion web` on a free port, on its own connection to the device's database file."""
    clock = ManualClock(utc("2026-03-02T09:00"))
    database = Database(tmp_path).open()
    with serving(create_app(database, now=clock.now)) as url:
        yield url, clock, tmp_path
    database.close()


@pytest.fixture
def hub_site(tmp_path: Path, postgres_server: Server) -> Iterator[tuple[str, ManualClock, Database]]:
    """`companion hub` over HTTPS on a free port, on its own PostgreSQL database: what relatives anywhere
    reach, while the device reaches it only outbound."""
    from companion.web.tls import make_certificate

    clock = ManualClock(utc("2026-03-02T09:00"))
    database = Database(None, url=postgres_server.create_database()).open()
    app = create_app(database, now=clock.now, hub=True)
    with serving(app, make_certificate(tmp_path / "hub")) as url:
        yield url, clock, database
    database.close()


@pytest.fixture
def page() -> Iterator[Any]:
    if not CHROMIUM.exists() or not AXE.exists():
        pytest.fail("the browser tests need Debian's chromium and axe-core: run ./install.sh --test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        # bypass_csp only so the test can inject axe-core; the site's own pages never need it.
        # The hub's self-signed certificate in these tests: a real hub has one from a public CA (README).
        context = browser.new_context(locale="da-DK", bypass_csp=True, ignore_https_errors=True)
        yield context.new_page()
        browser.close()


def accessible(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation of WCAG 2.x A/AA."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(f"() => axe.run(document, {{runOnly: {{type: 'tag', values: {WCAG}}}}})")
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"] if v["impact"] in SERIOUS]
    assert bad == [], f"{name}: {bad}"
    folder = os.environ.get("COMPANION_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_pair_remind_speak_acknowledge_and_see_it_heard(
    site: tuple[str, ManualClock, Path],
    page: Any,
    mock_pins: MockFactory,
    tiny_gguf: Path,
    tiny_piper_voice: Path,
) -> None:
    url, clock, directory = site
    with RunningDevice(directory, clock, tiny_gguf, tiny_piper_voice) as device:
        device.type_line("Give me a code for the web page.")
        spoken = " ".join(device.recorder.said())
        digits = re.search(r"is (\d(?: \d){3}, \d(?: \d){3})", spoken)
        assert digits, spoken
        code = re.sub(r"\D", "", digits.group(1))

        page.goto(f"{url}/login")
        accessible(page, "login")
        page.get_by_role("link", name="forbind med den").click()
        accessible(page, "pair")
        page.get_by_label("Koden, som companion sagde").fill(f"{code[:4]} {code[4:]}")
        page.get_by_label("Dit navn, som personen kender dig").fill("Anne")
        page.get_by_label("E-mailadresse").fill("anne@example.dk")
        page.get_by_label("Vælg en adgangskode").fill("korrekt hest batteri")
        page.get_by_role("button", name="Forbind").click()
        page.wait_for_url(f"{url}/reminders")
        accessible(page, "reminders-empty")

        page.get_by_role("link", name="Ny påmindelse").click()
        accessible(page, "new-reminder")
        page.get_by_label("Hvad skal companion sige?").fill("Husk at vande blomsterne")
        page.get_by_label("Dag", exact=True).fill("2026-03-02")
        page.get_by_label("Klokkeslæt (dansk tid)").fill("10:00")
        page.get_by_label("Hver uge", exact=True).check()
        page.get_by_label("Mandag").check()
        page.get_by_role("button", name="Gem påmindelsen").click()
        page.wait_for_url(f"{url}/reminders")
        assert "Hver uge mandag klokken 10" in page.content()

        clock.set(utc("2026-03-02T10:00"))
        device.recorder.wait_for(lambda _: device.reminder_said("Anne asked me to remind you of something:"))
        device.wait_until_spoken()
        mock_pins.pin(17).drive_low()
        mock_pins.pin(17).drive_high()
        device.recorder.wait_for(lambda _: device.recorder.said()[-1:] == ["Now I know you have heard it."])

    page.reload()
    assert "hørt – der blev trykket på knappen" in page.content()
    accessible(page, "reminders-heard")
    page.goto(f"{url}/reminders/999/nothing")
    accessible(page, "not-found")


def test_through_the_hub_a_relative_anywhere_sets_a_reminder_and_the_device_speaks_it_on_time(
    hub_site: tuple[str, ManualClock, Database],
    page: Any,
    mock_pins: MockFactory,
    tiny_gguf: Path,
    tiny_piper_voice: Path,
    tmp_path: Path,
) -> None:
    """The hub's done-when: the daughter in Aarhus pairs on the hub and sets a reminder; the device in
    Copenhagen, which only ever connects out to the hub, speaks it at its minute; she sees it was heard."""
    from companion.hub.client import HubLink, HubSync
    from companion.hub.devices import add_device, add_household
    from companion.reminders.recurrence import local
    from companion.web.pairing import new_code

    url, clock, hub = hub_site
    household = add_household(hub.engine, "Inger, Vesterbro", clock.now())
    _device, credential = add_device(hub.engine, household, "Inger's companion", clock.now())
    code = new_code(hub.engine, household, clock.now())
    with RunningDevice(tmp_path / "device", clock, tiny_gguf, tiny_piper_voice) as device:
        link = HubLink(url, credential, str(tmp_path / "hub" / "tls" / "cert.pem"))
        sync = HubSync(
            device.database.engine, link, clock.now, lambda: local(clock.now()).date(), timedelta(seconds=0.2)
        )
        sync.start()
        try:
            page.goto(f"{url}/pair")
            accessible(page, "hub-pair")
            page.get_by_label("Koden, som companion sagde").fill(code)
            page.get_by_label("Dit navn, som personen kender dig").fill("Anne")
            page.get_by_label("E-mailadresse").fill("anne@example.dk")
            page.get_by_label("Vælg en adgangskode").fill("korrekt hest batteri")
            page.get_by_role("button", name="Forbind").click()
            page.wait_for_url(f"{url}/reminders")
            page.get_by_role("link", name="Ny påmindelse").click()
            page.get_by_label("Hvad skal companion sige?").fill("Husk at vande blomsterne")
            page.get_by_label("Dag", exact=True).fill("2026-03-02")
            page.get_by_label("Klokkeslæt (dansk tid)").fill("10:00")
            page.get_by_role("button", name="Gem påmindelsen").click()
            page.wait_for_url(f"{url}/reminders")
            accessible(page, "hub-reminders")

            deadline = time.monotonic() + 20
            while not device.scheduler.book.all() and time.monotonic() < deadline:
                time.sleep(0.05)  # the next sync brings it
            assert [r.text for r in device.scheduler.book.all()] == ["Husk at vande blomsterne"], sync.problem
            clock.set(utc("2026-03-02T09:59"))
            time.sleep(0.5)
            assert not device.reminder_said("Anne asked me")  # not early
            clock.set(utc("2026-03-02T10:00"))
            device.recorder.wait_for(
                lambda _: device.reminder_said("Anne asked me to remind you of something:")
            )
            device.wait_until_spoken()
            mock_pins.pin(17).drive_low()
            mock_pins.pin(17).drive_high()
            device.recorder.wait_for(
                lambda _: device.recorder.said()[-1:] == ["Now I know you have heard it."]
            )
            deadline = time.monotonic() + 20
            while "hørt – der blev trykket på knappen" not in page.content() and time.monotonic() < deadline:
                time.sleep(0.3)  # the state goes back at the next sync
                page.reload()
            assert "hørt – der blev trykket på knappen" in page.content()
            assert sync.problem == ""
        finally:
            sync.close()


def test_the_coordinators_and_evaluators_pages_in_english_are_accessible(
    site: tuple[str, ManualClock, Path], page: Any
) -> None:
    from companion.mind.build import load_catalogue
    from companion.store.catalogue import seed_catalogue

    from web_pages import add_account

    url, _clock, directory = site
    with Database(directory) as database:
        seed_catalogue(database.engine, load_catalogue(Path(__file__).parent.parent / "dialogs", "da"), "da")
        for role, email in (("coordinator", "lone@kommune.dk"), ("evaluator", "eva@uni.dk")):
            add_account(database, role, email, utc("2026-03-02T09:00"), language="en")
    _twelve_households_report_to(directory)
    _the_coordinator_then_the_evaluator(page, url, "")


def _the_coordinator_then_the_evaluator(page: Any, url: str, prefix: str) -> None:
    """Each signs in (in English): the catalogue, with a group added; the report's charts, at 200 % too."""
    for email, heading, name in (
        ("lone@kommune.dk", "Group catalogue", "catalogue"),
        ("eva@uni.dk", "Usage summaries", "evaluation"),
    ):
        page.goto(f"{url}/language/en?back=/login")
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill("korrekt hest batteri")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name=heading).wait_for()
        accessible(page, prefix + name)
        if name == "catalogue":
            _add_a_group(page)
        else:
            page.get_by_role("img", name="Weekly use").wait_for()  # the simulated week's charts
            assert "Devices counted: 12." in page.content()
            _charts_read_at_200_percent(page)
        page.get_by_role("button", name="Sign out").click()


def test_the_hubs_catalogue_and_fleet_report_pages_are_accessible(
    hub_site: tuple[str, ManualClock, Database], page: Any
) -> None:
    """The same pages on the hub: the catalogue every device pulls, and the fleet's report from the weekly
    counts the devices pushed (added up in PostgreSQL)."""
    from companion.hub.changes import keep_counts
    from companion.store.database import writing

    from usage_week import simulate_week
    from web_pages import add_account

    url, clock, hub = hub_site
    with writing(hub.engine) as connection:
        for summary in simulate_week(12):
            keep_counts(connection, summary)
    # The hub shows a week three days after it ended: the simulated week 10, on the Thursday after.
    clock.set(utc("2026-03-12T09:00"))
    for role, email in (("coordinator", "lone@kommune.dk"), ("evaluator", "eva@uni.dk")):
        add_account(hub, role, email, clock.now(), language="en")
    _the_coordinator_then_the_evaluator(page, url, "hub-")


def _charts_read_at_200_percent(page: Any) -> None:
    """A 1280-pixel window zoomed to 200 %: no sideways scrolling, no chart text cut off or too small."""
    page.set_viewport_size({"width": 640, "height": 900})
    page.get_by_role("img", name="Weekly use").wait_for()
    found = page.evaluate(
        """() => ({
            overflow: document.documentElement.scrollWidth - window.innerWidth,
            charts: document.querySelectorAll("figure.chart svg").length,
            texts: [...document.querySelectorAll("figure.chart svg")].flatMap(svg => {
                const box = svg.getBoundingClientRect();
                return [...svg.querySelectorAll("text")].map(text => {
                    const own = text.getBoundingClientRect();
                    return {text: text.textContent, height: own.height,
                            cut: own.left < box.left - 0.5 || own.right > box.right + 0.5};
                });
            }),
        })"""
    )
    assert found["overflow"] <= 0 and found["charts"] == 5
    assert [t["text"] for t in found["texts"] if t["cut"]] == []
    assert min(t["height"] for t in found["texts"]) >= 12  # CSS pixels: about the size of small print
    accessible(page, "evaluation-200")
    page.set_viewport_size({"width": 1280, "height": 720})


def _twelve_households_report_to(directory: Path) -> None:
    """A simulated week of twelve households' exported summaries, imported as a municipality would."""
    import json

    from companion.usage.report import import_summaries

    from usage_week import simulate_week

    files = []
    for number, summary in enumerate(simulate_week(12)):
        files.append(directory / f"summary-{number}.json")
        files[-1].write_text(json.dumps(summary), encoding="utf-8")
    assert len(import_summaries(directory, files)) == 12


def _add_a_group(page: Any) -> None:
    """The coordinator's group form, refused once (no weekday chosen) and then saved."""
    page.get_by_role("link", name="Add a group").click()
    page.get_by_label("Name of the group").fill("Reading circle")
    page.get_by_label("Where (an address, or how to join)").fill("Valby Library")
    page.get_by_label("Starts at (Danish time)").fill("14:00")
    page.get_by_label("Lasts (minutes)").fill("90")
    accessible(page, "group_form")
    page.get_by_role("button", name="Save the group").click()
    page.get_by_text("Choose the weekdays the group meets.").wait_for()
    accessible(page, "group_form_refused")
    page.get_by_label("Wednesday").check()
    page.get_by_role("button", name="Save the group").click()
    page.get_by_text("Saved: Reading circle").wait_for()
