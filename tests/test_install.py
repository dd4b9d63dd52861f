"""install.sh: ShellCheck-clean, and the device set-up run twice in a throwaway root — the second run
changes nothing and says so — then uninstalled (data kept) and purged.

Only the network is stubbed: the pi-da models are small local files named by a test manifest (as a
mirror's manifest would name them), already in place, so `companion models install` checks their SHA-256
and downloads nothing. The user, the virtual environment (pip, from the package registry or its cache),
the units and their enabling (`systemctl --root`) are real.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
INSTALL = REPO / "install.sh"


def test_the_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is missing: run ./install.sh --test (Debian's shellcheck)")
    result = subprocess.run(
        [shellcheck, str(INSTALL), str(REPO / "test.sh"), str(REPO / ".ci" / "run")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


MODELS = {
    # model name → kind, files (name → content)
    "qwen2.5-1.5b-instruct-q4_0": ("llm", {"qwen2.5-1.5b-instruct-q4_0.gguf": b"GGUF tiny stand-in"}),
    "faster-whisper-small": ("stt", {"model.bin": b"ct2 stand-in", "config.json": b"{}"}),
    "piper-da-dk-talesyntese-medium": (
        "tts",
        {"da_DK-talesyntese-medium.onnx": b"onnx stand-in", "da_DK-talesyntese-medium.onnx.json": b"{}"},
    ),
}


def _local_models(data: Path, manifest: Path) -> None:
    """The pi-da models as a mirror would serve them, already downloaded into the data folder."""
    lines = [
        "schema = 1",
        "[profiles.pi-da]",
        'language = "da"',
        'description = "The test stand-ins."',
        'llm = "qwen2.5-1.5b-instruct-q4_0"',
        'stt = "faster-whisper-small"',
        'tts = "piper-da-dk-talesyntese-medium"',
    ]
    for name, (kind, files) in MODELS.items():
        lines += [
            f'[models."{name}"]',
            f'kind = "{kind}"',
            'description = "stand-in"',
            'language = "da"',
            'licence = "test"',
            "ram_mb = 10",
            'source = "https"',
            *(['prompt_style = "chat"'] if kind == "llm" else []),
        ]
        for file_name, content in files.items():
            (data / "models" / name).mkdir(parents=True, exist_ok=True)
            (data / "models" / name / file_name).write_bytes(content)
            lines += [
                f'[[models."{name}".files]]',
                f'name = "{file_name}"',
                f'url = "https://mirror.invalid/{name}/{file_name}"',
                f"size = {len(content)}",
                f'sha256 = "{hashlib.sha256(content).hexdigest()}"',
            ]
    manifest.write_text("\n".join(lines) + "\n")


def _tree(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every file and link under root: (mode, uid, mtime_ns, content hash or link target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if relative.startswith(("proc", "opt/companion/venv/lib")) or "__pycache__" in relative:
            continue  # the venv's libraries are pip's: its own check says whether they change
        info = path.lstat()
        if path.is_symlink():
            found[relative] = (info.st_mode, info.st_uid, 0, os.readlink(path))
        elif path.is_file():
            found[relative] = (
                info.st_mode,
                info.st_uid,
                info.st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return found


def _install(root: Path, *args: str, manifest: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("COMPANION_CONFIG", None)
    if manifest is not None:
        env["COMPANION_MANIFEST"] = str(manifest)
    return subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=1200,
    )


def test_the_device_set_up_in_a_throwaway_root_is_idempotent_and_undone(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the device set-up makes a system user and sets owners: it runs as root (as CI does)")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        shutil.copy(f"/etc/{name}", root / "etc" / name)
    (root / "proc" / "device-tree").mkdir(parents=True)
    (root / "proc" / "device-tree" / "model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    manifest = tmp_path / "mirror.toml"
    _local_models(root / "var" / "lib" / "companion", manifest)

    first = _install(root, manifest=manifest)
    assert first.returncode == 0, first.stdout + first.stderr
    for said in (
        "made the system user companion",
        "wrote the settings",
        "installed the program",
        "enabled companion.service",
    ):
        assert said in first.stdout, first.stdout
    passwd = (root / "etc" / "passwd").read_text()
    assert "companion:" in passwd and ":/var/lib/companion:/usr/sbin/nologin" in passwd
    group = (root / "etc" / "group").read_text()
    assert any(line.startswith("gpio:") and line.endswith("companion") for line in group.splitlines())
    unit = (root / "etc" / "systemd" / "system" / "companion.service").read_text()
    assert "ExecStart=/opt/companion/venv/bin/companion run" in unit and "MemoryMax=" in unit
    assert (
        root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "companion-web.service"
    ).is_symlink()
    assert (root / "opt" / "companion" / "venv" / "bin" / "companion").exists()
    assert (root / "var" / "lib" / "companion" / "tls" / "cert.pem").exists()
    assert "the web page: https://" in first.stdout and ":8080/pair" in first.stdout

    settings = root / "etc" / "companion" / "companion.toml"
    settings.write_text(settings.read_text() + "# the coordinator's own line\n")
    before = _tree(root)
    second = _install(root, manifest=manifest)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to change" in second.stdout, second.stdout
    assert _tree(root) == before  # not one file touched, the coordinator's settings included

    kept = _install(root, "--uninstall")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert (
        not (root / "opt" / "companion").exists()
        and not (root / "etc" / "systemd" / "system" / "companion.service").exists()
    )
    assert not (
        root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "companion.service"
    ).exists()
    assert (
        "the coordinator's own line" in settings.read_text()
        and (root / "var" / "lib" / "companion" / "models").is_dir()
    )
    purged = _install(root, "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not settings.exists() and not (root / "var" / "lib" / "companion").exists()
    assert "companion:" not in (root / "etc" / "passwd").read_text()
