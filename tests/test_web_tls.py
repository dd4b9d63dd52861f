"""`companion web` over HTTPS with the self-signed certificate: made once, verified by a client that trusts
it, cookies marked Secure, HSTS sent; without a certificate it refuses to start and says how to make one."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from companion.cli import main
from companion.web.tls import certificate_paths, make_certificate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_page_is_served_over_https_with_secure_cookies(tmp_path: Path) -> None:
    certificate, key = make_certificate(tmp_path)
    assert make_certificate(tmp_path) == (certificate, key)  # made once, kept
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    port = free_port()
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[general]\ndata_dir = "{tmp_path}"\n[web]\nhost = "127.0.0.1"\nport = {port}\ntls = true\n'
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "companion.cli", "--config", str(config), "web"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    trusted = ssl.create_default_context(cafile=str(certificate))  # a browser that accepted it once
    try:
        deadline = time.monotonic() + 30
        response = None
        while response is None and time.monotonic() < deadline:
            try:
                response = httpx.get(f"https://127.0.0.1:{port}/login", verify=trusted)
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None and response.status_code == 200
        assert "Secure" in response.headers["set-cookie"]
        assert response.headers["strict-transport-security"].startswith("max-age=")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_without_a_certificate_it_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "companion.toml"
    config.write_text(f'[general]\ndata_dir = "{tmp_path}"\n[web]\ntls = true\n')
    assert main(["--config", str(config), "web"]) == 1
    assert "companion web --make-certificate" in capsys.readouterr().err
    assert not certificate_paths(tmp_path)[0].exists()
