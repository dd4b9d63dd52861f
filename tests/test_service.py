"""Running as a systemd service: a fault that keeps the companion from starting is held — light, status,
watchdog — instead of exited into a restart loop; models too large for the RAM are refused with numbers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from companion.doctor import PROGRAM_MB, check_models, memory_needed_mb, refuse_models_too_large
from companion.errors import ModelError
from companion.settings import parse_settings

from harness import datagrams


def test_a_damaged_model_under_systemd_is_held_not_restarted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{data}"\n[hardware]\nmode = "simulated"\n')
    env = {**os.environ, "COMPANION_CONFIG": str(config)}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    installed = subprocess.run(
        [sys.executable, "-m", "companion.cli", "models", "install", "dev", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    gguf = data / "models" / "gemma-3-270m-q4_k_m.gguf"
    with gguf.open("r+b") as damaged:
        damaged.truncate(1_000_000)  # a power cut half-way through a copy

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        service_env = {**env, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"}
        process = subprocess.Popen(
            [sys.executable, "-m", "companion.cli", "run"],
            env=service_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            said = datagrams(systemd, 30.0)
            ready = [m for m in said if m.startswith("READY=1")]
            assert ready and "cannot start:" in ready[0] and "companion doctor" in ready[0], said
            assert said.count("WATCHDOG=1") >= 3 and process.poll() is None  # held, and its watchdog fed
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0 and "Traceback" not in stderr, stderr
    assert "gemma-3-270m-q4_k_m.gguf" in stderr


def test_models_too_large_for_the_memory_are_refused_with_the_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = parse_settings({})
    needed = memory_needed_mb(settings)
    assert needed == 450 + 250 + 75 or needed > 0  # the dev profile's three models
    monkeypatch.setattr("companion.doctor.available_memory_mb", lambda: needed)
    with pytest.raises(ModelError) as refused:
        refuse_models_too_large(settings)
    assert f"{needed} MB" in refused.value.message and f"{PROGRAM_MB} MB" in refused.value.message
    assert "model_profile" in refused.value.fix
    memory = [f for f in check_models(settings) if f.what.startswith("Memory")]
    assert memory and not memory[0].ok
    monkeypatch.setattr("companion.doctor.available_memory_mb", lambda: needed + PROGRAM_MB + 1)
    refuse_models_too_large(settings)  # enough: no error


def _fake_systemctl(tmp_path: Path, answers: dict[str, str]) -> str:
    """A systemctl that answers `show UNIT` as systemd would for each unit."""
    script = tmp_path / "systemctl"
    cases = "\n".join(f'  {unit}) printf "%s\\n" "{text}" ;;' for unit, text in answers.items())
    script.write_text(f'#!/bin/sh\ncase "$2" in\n{cases}\n  *) echo "LoadState=not-found" ;;\nesac\n')
    script.chmod(0o755)
    return str(script)


def test_doctor_reads_the_services_their_watchdog_and_a_held_fault(tmp_path: Path) -> None:
    from companion.doctor import check_service

    booted = tmp_path / "run-systemd"
    booted.mkdir()
    running = "LoadState=loaded\nActiveState=active\nSubState=running\n"
    healthy = running + "NRestarts=0\nWatchdogUSec=30s\nStatusText=listening"
    web = running + "NRestarts=2\nWatchdogUSec=0\nStatusText="
    systemctl = _fake_systemctl(tmp_path, {"companion.service": healthy, "companion-web.service": web})
    findings = check_service(parse_settings({}), systemctl, booted)
    assert all(f.ok for f in findings), findings
    assert any("restarted 2 times" in f.what for f in findings) and any(
        "Watchdog" in f.what and "30s" in f.what for f in findings
    )

    missing = healthy.replace("StatusText=listening", "StatusText=the microphone is missing")
    systemctl = _fake_systemctl(tmp_path, {"companion.service": missing, "companion-web.service": web})
    assert not check_service(parse_settings({}), systemctl, booted)[0].ok
    held = healthy.replace(
        "StatusText=listening", "StatusText=cannot start: The model file is damaged. Run: companion doctor"
    )
    failed = "LoadState=loaded\nActiveState=failed\nSubState=failed\nNRestarts=5\nStatusText="
    systemctl = _fake_systemctl(tmp_path, {"companion.service": held, "companion-web.service": failed})
    problems = [f for f in check_service(parse_settings({}), systemctl, booted) if not f.ok]
    assert (
        len(problems) == 2
        and "damaged" in problems[0].what
        and "journalctl -u companion-web.service" in problems[1].fix
    )
    assert check_service(parse_settings({}), systemctl, tmp_path / "not-booted")[
        0
    ].ok  # no systemd: nothing to check


def test_doctor_warns_of_a_nearly_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import namedtuple

    from companion.doctor import LOW_DISK_MB, check_disk

    settings = parse_settings({"general": {"data_dir": str(tmp_path / "data")}})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda _path: usage(10**10, 10**10, 50 * 1024 * 1024))
    [finding] = check_disk(settings)
    assert not finding.ok and "50 MB free" in finding.what and "nightly snapshot" in finding.fix
    monkeypatch.setattr("shutil.disk_usage", lambda _path: usage(10**10, 0, (LOW_DISK_MB + 1) * 1024 * 1024))
    assert check_disk(settings)[0].ok


def test_a_held_fault_is_let_go_after_a_while_to_be_started_afresh(tmp_path: Path) -> None:
    from companion.service import Notifier, hold_fault
    from hardware.base import LightPattern

    shown: list[LightPattern] = []

    class Light:
        def start(self) -> None: ...

        def show(self, pattern: LightPattern) -> None:
            shown.append(pattern)

        def close(self) -> None: ...

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"})
        hold_fault(
            ModelError("The model file is damaged.", "companion models install"), notifier, Light(), 0.5
        )
        said = datagrams(systemd, 0.2)
    assert shown == [LightPattern.ERROR] and said[0].startswith("READY=1\nSTATUS=cannot start:")
    assert (
        said.count("WATCHDOG=1") >= 2
    )  # fed while held; then the caller exits 1 and systemd starts it again


def test_doctor_says_when_the_gpio_chips_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from companion.doctor import check_gpio

    chip = tmp_path / "gpiochip0"
    chip.write_bytes(b"")
    monkeypatch.setattr("hardware.factory.has_gpio", lambda: True)
    assert check_gpio(parse_settings({}), tmp_path)[0].ok
    monkeypatch.setattr("os.access", lambda _path, _mode: False)  # a user outside the gpio group
    [finding] = check_gpio(parse_settings({}), tmp_path)
    assert not finding.ok and "gpiochip0" in finding.what and "gpio group" in finding.fix


def test_the_status_line_names_every_missing_part_until_each_is_back(tmp_path: Path) -> None:
    from companion.events import DeviceFault
    from companion.service import Notifier, StatusLine

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        status = StatusLine(Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")}))
        for event in (
            DeviceFault("microphone", missing=True),
            DeviceFault("disk space", missing=True),
            DeviceFault("disk space", missing=False),
            DeviceFault("disk space", missing=False),  # no change: nothing sent
            DeviceFault("microphone", missing=False),
        ):
            status(event)
        said = datagrams(systemd, 0.3)
    assert said == [
        "STATUS=missing: microphone",
        "STATUS=missing: disk space, microphone",
        "STATUS=missing: microphone",
        "STATUS=listening",
    ]
    assert status.text() == "listening"
