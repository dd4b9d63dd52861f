"""Real speech for tests, made on this machine with espeak-ng (Debian) and sox: no recordings shipped."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest


def espeak_wav(text: str, path: Path, voice: str = "en-us", rate: int = 16000, lead_ms: int = 0) -> Path:
    """Speak `text` into a 16 kHz mono WAV, optionally after `lead_ms` of silence."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are needed for the speech tests: run ./install.sh --test")
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(raw), text], check=True)
    command = ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)]
    if lead_ms:
        command += ["pad", f"{lead_ms / 1000:.3f}", "0"]
    subprocess.run(command, check=True)
    raw.unlink()
    return path


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())
