"""`companion doctor`: a plain-language check of everything the companion needs, with the fix for each
problem. It opens no device and loads no model, so it is safe to run beside a running companion.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from companion.errors import CompanionError, ModelError
from companion.settings import Settings, data_dir


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def available_memory_mb() -> int:
    """MemAvailable from /proc/meminfo: what can be used without swapping (Linux; 0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


PROGRAM_MB = 150
"""The program itself beside its models (Python, the web page's database, buffers): measured on the Pi."""


def memory_needed_mb(settings: Settings, manifest_path: Path | None = None) -> int:
    """What the profile's three models take in RAM (the manifest's figures), the program not counted."""
    from models import load_manifest

    manifest = load_manifest(manifest_path)
    profile = manifest.profile(settings.general.model_profile)
    return sum(manifest.models[name].ram_mb for name in (profile.stt, profile.llm, profile.tts))


def refuse_models_too_large(settings: Settings, manifest_path: Path | None = None) -> None:
    """Start-up's check: loading models the RAM cannot hold would end in the kernel killing us, over and
    over. Refuse with the numbers instead."""
    needed_mb, free_mb = memory_needed_mb(settings, manifest_path), available_memory_mb()
    if free_mb and needed_mb + PROGRAM_MB > free_mb:
        raise ModelError(
            f"The {settings.general.model_profile} models need about {needed_mb} MB of memory plus "
            f"{PROGRAM_MB} MB for the program, but only {free_mb} MB is available.",
            "Choose a smaller model profile ([general] model_profile), or stop other programs.",
        )


def check_settings(settings: Settings) -> list[Finding]:
    source = settings.source or "built-in defaults (no settings file found)"
    return [Finding(True, f"Settings: {source}; data in {data_dir(settings)}")]


def check_models(settings: Settings, manifest_path: Path | None = None) -> list[Finding]:
    from models import load_manifest, verify_model

    manifest = load_manifest(manifest_path)
    name = settings.general.model_profile
    try:
        profile = manifest.profile(name)
    except CompanionError as error:
        return [Finding(False, error.message, error.fix)]
    findings = []
    needed_mb = 0
    for model_name in (profile.stt, profile.llm, profile.tts):
        entry = manifest.models[model_name]
        needed_mb += entry.ram_mb
        # Files unchanged since their last full check are not hashed again: seconds per GB on a Pi.
        result = verify_model(entry, data_dir(settings), profile_name=name, trust_stamps=True)
        findings.append(
            Finding(result.ok, f"Model {model_name} ({entry.kind}): {result.summary}", result.fix)
        )
    free_mb = available_memory_mb()
    if free_mb:
        fits = needed_mb + PROGRAM_MB <= free_mb
        findings.append(
            Finding(
                fits,
                f"Memory: the {name} models need about {needed_mb} MB plus {PROGRAM_MB} MB for the program; "
                f"{free_mb} MB is available",
                ""
                if fits
                else "Close other programs, or choose a smaller model profile ([general] model_profile).",
            )
        )
    return findings


def check_audio(settings: Settings) -> list[Finding]:
    from hardware.audio import list_audio_devices
    from hardware.factory import has_gpio

    backend = settings.hardware.audio_backend
    try:
        devices = list_audio_devices(backend)
    except CompanionError as error:
        return [Finding(False, f"Audio ({backend}): {error.message}", error.fix)]
    inputs = [d.name for d in devices if d.max_input_channels > 0]
    outputs = [d.name for d in devices if d.max_output_channels > 0]
    # Without GPIO the companion runs simulated (typed text in, WAV files out): no device is needed then.
    needed = has_gpio() or settings.hardware.mode == "gpio"
    return [
        _device_finding("Microphone", settings.hardware.input_device, inputs, "input_device", needed),
        _device_finding("Speaker", settings.hardware.output_device, outputs, "output_device", needed),
    ]


def _device_finding(what: str, wanted: str, names: list[str], key: str, needed: bool) -> Finding:
    if not names and not needed:
        return Finding(True, f"{what}: none found; simulated mode stands in (typed text, WAV files)")
    if not names:
        return Finding(
            False,
            f"{what}: none found, so the companion can neither hear nor speak",
            "Plug in the USB speakerphone, then run `companion doctor` again.",
        )
    if wanted and not any(wanted.lower() in n.lower() for n in names):
        return Finding(
            False,
            f"{what}: no device matches [hardware] {key} = {wanted!r}; found: {', '.join(names)}",
            f"Set [hardware] {key} to part of one of those names.",
        )
    return Finding(True, f"{what}: {', '.join(names)}")


def check_gpio(settings: Settings, dev_dir: Path = Path("/dev")) -> list[Finding]:
    from hardware.factory import has_gpio

    pins = f"button on GPIO{settings.hardware.button_pin}, light on GPIO{settings.hardware.light_pin}"
    if has_gpio():
        # The pins are not claimed here (the running companion holds them): only whether they could be.
        chips = sorted(dev_dir.glob("gpiochip*"))
        locked = [chip.name for chip in chips if not os.access(chip, os.R_OK | os.W_OK)]
        if chips and len(locked) == len(chips):
            return [
                Finding(
                    False,
                    f"GPIO: {', '.join(locked)} cannot be opened by this user ({pins})",
                    "Run it as the companion user, or add this user to the gpio group (install.sh does).",
                )
            ]
        return [Finding(True, f"GPIO: available ({pins})")]
    if settings.hardware.mode == "gpio":
        return [
            Finding(
                False,
                "GPIO: [hardware] mode = 'gpio', but this machine has no GPIO pins",
                "Run on the Raspberry Pi, or set [hardware] mode = 'auto'.",
            )
        ]
    return [
        Finding(True, "GPIO: none on this machine; the Enter key stands in for the button (simulated mode)")
    ]


def check_database(settings: Settings) -> list[Finding]:
    """Integrity, the newest snapshot and what happened to the database lately — read only."""
    import sqlite3

    from companion.store.database import DATABASE_NAME, SNAPSHOT_DIR, check_integrity

    path = data_dir(settings) / DATABASE_NAME
    if not path.exists():
        return [Finding(True, f"Database: none yet at {path}; `companion run` creates it")]
    report = check_integrity(path)
    findings = [
        Finding(
            report.ok,
            f"Database {path}: {'intact' if report.ok else 'damaged: ' + report.detail}",
            "" if report.ok else "Restart the companion: it restores the newest good snapshot by itself.",
        )
    ]
    snapshots = sorted((path.parent / SNAPSHOT_DIR).glob("companion-*.db"), reverse=True)
    newest = snapshots[0].name if snapshots else "none yet (one is made each night)"
    findings.append(Finding(True, f"Database snapshots: {len(snapshots)}; newest {newest}"))
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = connection.execute(
                "SELECT at_utc, kind, detail FROM device_events ORDER BY id DESC LIMIT 3"
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        rows = []
    recent = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=7)
    for at, kind, detail in rows:
        # A restore is a problem to look into for a week; after that it is history.
        restored = kind.startswith("database_") and datetime.fromisoformat(str(at)) >= recent
        findings.append(
            Finding(
                not restored,
                f"Event {str(at)[:16]} UTC: {kind} — {detail}",
                "Reminders made after that snapshot may be lost: ask relatives to check theirs."
                if restored
                else "",
            )
        )
    return findings


def check_clock(settings: Settings) -> list[Finding]:
    from companion.reminders.clock import TIMESYNC_FLAG, kernel_clock_synchronised
    from hardware.factory import has_gpio

    if settings.reminders.trust_clock or TIMESYNC_FLAG.exists() or kernel_clock_synchronised() is not False:
        return [Finding(True, "Clock: synchronised (reminders fire on time)")]
    if not has_gpio() and settings.hardware.mode != "gpio":
        return [Finding(True, "Clock: not synchronised by NTP; simulated mode trusts this machine's clock")]
    return [
        Finding(
            False,
            "Clock: not synchronised from the network yet, so reminders wait",
            "Connect the device to the network (NTP), or set [reminders] trust_clock = true if it has a "
            "clock battery.",
        )
    ]


SERVICES = ("companion.service", "companion-web.service")
LOW_DISK_MB = 200
"""Below this the nightly snapshot, new reminders and usage counts may no longer fit."""


def check_service(
    settings: Settings, systemctl: str | None = None, booted: Path = Path("/run/systemd/system")
) -> list[Finding]:
    """The units' state, restarts, status line and the speech loop's watchdog, as systemd sees them."""
    from hardware.factory import has_gpio

    systemctl = systemctl or shutil.which("systemctl")
    if systemctl is None or not booted.exists():
        return [Finding(True, "Service: this machine does not run systemd; the companion is started by hand")]
    findings = []
    for unit in SERVICES:
        try:
            shown = subprocess.run(
                [
                    systemctl,
                    "show",
                    unit,
                    "--property=LoadState,ActiveState,SubState,NRestarts,WatchdogUSec,StatusText",
                ],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.TimeoutExpired) as error:
            return [Finding(False, f"Service: systemctl did not answer ({error})", "Restart the Pi.")]
        state = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        if state.get("LoadState") == "not-found":
            device = has_gpio() or settings.hardware.mode == "gpio"
            fix = "Run ./install.sh on the Pi: it sets up and starts the services."
            findings.append(Finding(not device, f"Service {unit}: not installed", fix if device else ""))
            continue
        said = state.get("StatusText", "")
        # "activating": the models are still loading, which takes a minute on a Pi.
        running = state.get("ActiveState") in ("active", "activating")
        status = f"; it says: {said}" if said else ""
        findings.append(
            Finding(
                running and not said.startswith("cannot start") and "missing" not in said,
                f"Service {unit}: {state.get('ActiveState', 'unknown')} ({state.get('SubState', '?')}), "
                f"restarted {state.get('NRestarts', '0')} times{status}",
                f"See why: journalctl -u {unit} -n 50. Then: sudo systemctl restart {unit}",
            )
        )
        if unit == "companion.service":
            watchdog = state.get("WatchdogUSec", "0")
            findings.append(
                Finding(
                    watchdog not in ("0", "infinity", ""),
                    f"Watchdog of {unit}: {watchdog or 'off'} (a wedged speech loop is restarted)",
                    "Run ./install.sh again: it renews the unit.",
                )
            )
    return findings


def check_disk(settings: Settings) -> list[Finding]:
    folder = data_dir(settings)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free_mb = shutil.disk_usage(folder).free // (1024 * 1024)
    return [
        Finding(
            free_mb >= LOW_DISK_MB,
            f"Disk: {free_mb} MB free for {data_dir(settings)}",
            "Free some space: without it new reminders, the nightly snapshot and counts cannot be saved.",
        )
    ]


SYNC_LATE = timedelta(hours=1)
"""A device that has not reached its hub for this long leaves relatives' changes unheard."""


def check_hub(settings: Settings) -> list[Finding]:
    """The hub this device syncs with: the credential, and how the running companion's sync went."""
    import sqlite3

    from companion.hub.client import LAST_OK, PROBLEM, REFUSED, HubLink, credential_path, read_credential
    from companion.store.database import DATABASE_NAME

    if not settings.hub.url:
        return [Finding(True, "Hub: none set ([hub] url); the device keeps its reminders on its own")]
    try:
        HubLink(settings.hub.url, read_credential(data_dir(settings)), settings.hub.ca_file).close()
    except CompanionError as error:  # no credential, not HTTPS, a CA file that cannot be read
        return [Finding(False, f"Hub {settings.hub.url}: {error.message}", error.fix)]
    state: dict[str, str] = {}
    try:
        connection = sqlite3.connect(f"file:{data_dir(settings) / DATABASE_NAME}?mode=ro", uri=True)
        try:
            state = dict(connection.execute("SELECT name, value FROM sync_state").fetchall())
        finally:
            connection.close()
    except sqlite3.Error:
        pass  # no database yet: nothing synced yet
    if state.get(PROBLEM):
        fix = (
            "Ask the hub's coordinator for a new credential (companion devices add), then: companion hub-join"
            if state.get(REFUSED) == "yes"
            else "Check the network and the address; the device goes on with its own copy meanwhile."
        )
        return [Finding(False, f"Hub {settings.hub.url}: {state[PROBLEM]}", fix)]
    last = state.get(LAST_OK, "")
    late = not last or datetime.fromisoformat(last) < datetime.now(UTC).replace(tzinfo=None) - SYNC_LATE
    return [
        Finding(
            not late,
            f"Hub {settings.hub.url}: credential in {credential_path(data_dir(settings))}; "
            + (f"last synced {last} UTC" if last else "never synced yet"),
            "Is the companion running? Try `companion sync` to see what the hub answers.",
        )
    ]


def run_doctor(settings: Settings, out: TextIO | None = None, manifest_path: Path | None = None) -> int:
    out = out or sys.stdout
    findings: list[Finding] = []
    for check in (
        check_settings,
        check_service,
        check_audio,
        check_gpio,
        check_database,
        check_disk,
        check_clock,
        check_hub,
    ):
        findings += check(settings)
    findings += check_models(settings, manifest_path)
    for finding in findings:
        print(f"{'OK     ' if finding.ok else 'PROBLEM'}  {finding.what}", file=out)
        if finding.fix and not finding.ok:
            print(f"         Fix: {finding.fix}", file=out)
    problems = sum(not f.ok for f in findings)
    print(f"\n{problems} problem(s) found." if problems else "\nAll checks passed.", file=out)
    return 1 if problems else 0
