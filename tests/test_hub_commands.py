"""The hub's commands as a coordinator types them, and a device joined to the hub with `hub-join`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.private_postgres import Server
from companion.doctor import check_hub
from companion.errors import HubError
from companion.hub.client import HubLink, credential_path
from companion.settings import HubSettings, Settings

from hub_fleet import HubProcess


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, postgres_server: Server) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("hub"), postgres_server.create_database())
    process.start()
    yield process
    process.stop()


def _device_command(config: Path, *args: str, given: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "companion.cli", *args],
        env={**os.environ, "COMPANION_CONFIG": str(config)},
        input=given,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_coordinator_adds_a_household_and_its_device_which_joins_syncs_and_can_be_revoked(
    hub: HubProcess, tmp_path: Path
) -> None:
    made = hub.run_command("households", "add", "Inger Hansen,  Vesterbro")
    household = made.split()[1].rstrip(":")
    assert "Inger Hansen, Vesterbro" in hub.run_command("households", "list")
    added = hub.run_command("devices", "add", "--household", household, "--name", "Ingers companion")
    device_number = added.split()[1]
    credential = added.strip().splitlines()[-1]
    assert credential.startswith("cdev_") and credential not in hub.run_command("devices", "list")
    assert "(last sync never)" in hub.run_command("devices", "list")
    code = hub.run_command("households", "pair-code", household)
    assert "valid for 10 minutes" in code

    device_dir = tmp_path / "device"
    config = tmp_path / "device.toml"
    config.write_text(f'[general]\ndata_dir = "{device_dir}"\n[hub]\nurl = "{hub.url}"\n')
    joined = _device_command(config, "hub-join", given=credential + "\n")
    assert joined.returncode == 0, joined.stderr
    assert "synced with" in joined.stdout
    assert credential_path(device_dir).stat().st_mode & 0o777 == 0o600  # whoever reads it speaks for her
    assert "last sync 20" in hub.run_command("devices", "list")

    hub.run_command("devices", "revoke", device_number)
    refused = _device_command(config, "sync")
    assert refused.returncode == 1 and "refused this device's credential" in refused.stderr
    assert "companion hub-join" in refused.stderr and "Traceback" not in refused.stderr
    assert "(revoked)" in hub.run_command("devices", "list")

    # The running companion's sync meets the refusal: the doctor names the fix.
    from companion.hub.client import HubSync
    from companion.store.database import Database, utc_now

    settings = Settings(hub=HubSettings(url=hub.url)).with_data_dir(device_dir)
    with Database(device_dir) as database:
        sync = HubSync(database.engine, HubLink(hub.url, credential), utc_now, lambda: utc_now().date())
        sync.round()
        sync.link.close()
    (finding,) = check_hub(settings)
    assert not finding.ok and "refused" in finding.what and "new credential" in finding.fix


def test_a_wrong_credential_is_not_kept(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path / "data"}"\n')
    typed = _device_command(config, "hub-join", given="my password\n")
    assert typed.returncode == 1 and "not a device credential" in typed.stderr
    assert not credential_path(tmp_path / "data").exists()


def test_a_device_reaches_its_hub_over_https_only(tmp_path: Path) -> None:
    with pytest.raises(HubError, match="over HTTPS only"):
        HubLink("http://hub.example.dk", "cdev_x")
    HubLink("http://127.0.0.1:9", "cdev_x").close()  # this machine itself: a proxy beside it, or a test
    HubLink("https://hub.example.dk", "cdev_x").close()


def test_the_doctor_says_what_is_missing_for_the_hub(tmp_path: Path) -> None:
    on_its_own = Settings().with_data_dir(tmp_path)
    (finding,) = check_hub(on_its_own)
    assert finding.ok and "none set" in finding.what
    joined = Settings(hub=HubSettings(url="https://hub.example.dk")).with_data_dir(tmp_path)
    (finding,) = check_hub(joined)
    assert not finding.ok and "no credential" in finding.what and "companion hub-join" in finding.fix


def test_companion_run_syncs_only_when_a_hub_is_set_and_runs_on_without_a_credential(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from companion.cli import _hub_sync
    from companion.hub.client import HubSync, save_credential
    from companion.store.database import Database, utc_now

    with Database(tmp_path) as database:
        assert (
            _hub_sync(Settings().with_data_dir(tmp_path), database, utc_now) is None
        )  # on its own, as before
        joined = Settings(hub=HubSettings(url="https://hub.example.dk")).with_data_dir(tmp_path)
        assert _hub_sync(joined, database, utc_now) is None  # set up wrong: said, and the reminders go on
        assert "no sync with the hub" in caplog.text and "no credential" in caplog.text
        save_credential(tmp_path, "cdev_" + "x" * 43)
        sync = _hub_sync(joined, database, utc_now)
        assert isinstance(sync, HubSync) and sync.every.total_seconds() == 60
        sync.link.close()


def test_a_hub_out_of_reach_is_logged_once_kept_for_the_doctor_and_the_device_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta

    from companion.hub.client import HubSync, save_credential
    from companion.reminders.recurrence import local
    from companion.store.database import Database, utc_now

    from web_pages import free_port

    save_credential(tmp_path, "cdev_" + "y" * 43)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(hub=HubSettings(url=url)).with_data_dir(tmp_path)
    with Database(tmp_path) as database:
        sync = HubSync(
            database.engine,
            HubLink(url, "cdev_" + "y" * 43),
            utc_now,
            lambda: local(utc_now()).date(),
            timedelta(0),
        )
        sync.round()
        sync.round()
        assert "cannot be reached" in sync.problem
        assert caplog.text.count("sync with the hub failed") == 1  # not once a minute all night
        (finding,) = check_hub(settings)
        assert not finding.ok and "cannot be reached" in finding.what and "network" in finding.fix
        sync.link.close()
