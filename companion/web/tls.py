"""HTTPS for `companion web` with a self-signed certificate, made once (install.sh does it) and kept in
<data_dir>/tls. A browser warns about a certificate nobody vouches for: the README says how to accept it
once, or to put the page behind a reverse proxy with a real certificate instead."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from companion.errors import CompanionError

VALID_DAYS = 3650


def certificate_paths(data: Path) -> tuple[Path, Path]:
    """(certificate, private key)."""
    return data / "tls" / "cert.pem", data / "tls" / "key.pem"


def make_certificate(data: Path, hostname: str | None = None) -> tuple[Path, Path]:
    """A self-signed certificate for this device's name (and localhost), unless one is there already."""
    certificate, key = certificate_paths(data)
    if certificate.exists() and key.exists():
        return certificate, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CompanionError(
            "The openssl program is needed to make a certificate.", "apt-get install openssl"
        )
    name = hostname or socket.gethostname()
    certificate.parent.mkdir(parents=True, exist_ok=True)
    certificate.parent.chmod(0o700)
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            str(VALID_DAYS),
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name},DNS:{name}.local,DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    return certificate, key
