"""The systemd units: rendered for the model profile, and checked by `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from companion.settings import parse_settings
from companion.units import Places, main, memory_max_mb, render_units


def test_memory_max_follows_the_model_profile() -> None:
    assert memory_max_mb(parse_settings({})) == 1350  # dev: (450 + 250 + 200 + 150) × 1.25, by 50 MB
    pi = parse_settings({"general": {"model_profile": "pi-da"}})
    assert memory_max_mb(pi) == 2950  # pi-da: (1400 + 600 + 200 + 150) × 1.25


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: run ./install.sh --test (Debian's systemd package)")
    prefix = tmp_path / "opt"
    (prefix / "venv" / "bin").mkdir(parents=True)
    # verify checks that ExecStart can be run: the program of this checkout stands in for /opt/companion's.
    (prefix / "venv" / "bin" / "companion").symlink_to(Path(sys.executable).parent / "companion")
    config = tmp_path / "companion.toml"
    config.write_text('[general]\nmodel_profile = "pi-da"\n')
    out = tmp_path / "units"
    assert (
        main(
            [
                "--out",
                str(out),
                "--prefix",
                str(prefix),
                "--data",
                "/var/lib/companion",
                "--config",
                str(config),
            ]
        )
        == 0
    )
    device, web = (out / "companion.service").read_text(), (out / "companion-web.service").read_text()
    assert "@" not in device.replace("@system-service", "") and "MemoryMax=2950M" in device
    assert "Type=notify" in device and "WatchdogSec=" in device and "SupplementaryGroups=audio gpio" in device
    assert (
        "PrivateDevices=true" in web
        and "SupplementaryGroups" not in web
        and "CapabilityBoundingSet=\n" in web
    )
    assert (
        "Requires=" not in device + web and "BindsTo=" not in device + web
    )  # each goes on without the other
    result = subprocess.run(
        [analyze, "verify", str(out / "companion.service"), str(out / "companion-web.service")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr

    # The hub's unit, for its server: started after PostgreSQL, no device at all, the same sandbox.
    hub_out = tmp_path / "hub-units"
    assert main(["--hub", "--out", str(hub_out), "--prefix", str(prefix), "--config", str(config)]) == 0
    assert sorted(path.name for path in hub_out.iterdir()) == ["companion-hub.service"]
    hub = (hub_out / "companion-hub.service").read_text()
    assert "ExecStart=" + str(prefix / "venv" / "bin" / "companion") + " hub" in hub
    assert "After=network-online.target postgresql.service" in hub and "PrivateDevices=true" in hub
    result = subprocess.run(
        [analyze, "verify", str(hub_out / "companion-hub.service")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_rendering_without_templates_says_where_to_run_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path / "u"), "--templates", str(tmp_path / "none")]) == 1
    assert "--templates" in capsys.readouterr().err
    assert (
        render_units(parse_settings({}), Places())["companion.service"].count(
            "/opt/companion/venv/bin/companion"
        )
        == 1
    )
