"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from benchmarks.private_postgres import Server, private_server
from companion.mind.build import load_catalogue
from companion.store.catalogue import seed_catalogue
from companion.store.database import Database

from tiny_models import make_tiny_gguf, make_tiny_piper_voice, make_tiny_whisper


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    """gpiozero's own mock pins for the real GPIO classes (a button pressed by `pin(17).drive_low()`)."""
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny llama GGUF that answers every prompt with ``tiny_models.GGUF_REPLY``, repeating it."""
    return make_tiny_gguf(tmp_path_factory.mktemp("tiny_gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny multilingual faster-whisper model dir that hears "hello there" in any audio."""
    return make_tiny_whisper(tmp_path_factory.mktemp("tiny_whisper"), phrase="hello there")


@pytest.fixture(scope="session")
def tiny_whisper_da(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny multilingual faster-whisper model dir that hears Danish "hej med dig" in any audio."""
    return make_tiny_whisper(
        tmp_path_factory.mktemp("tiny_whisper_da"), phrase="hej med dig", multilingual=True, language="da"
    )


@pytest.fixture(scope="session")
def tiny_piper_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path to a tiny English piper voice (.onnx, with its .onnx.json beside it) that outputs a tone."""
    return make_tiny_piper_voice(tmp_path_factory.mktemp("tiny_piper_voice"), language="en")


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real English sentence spoken by espeak-ng, 16 kHz mono, after half a second of silence."""
    from speech import espeak_wav

    folder = tmp_path_factory.mktemp("speech")
    return espeak_wav("Hello, I would like to talk about my garden.", folder / "garden.wav", lead_ms=500)


@pytest.fixture(scope="session")
def speech_wav_16k(speech_wav: Path) -> bytes:
    from speech import pcm_of

    return pcm_of(speech_wav)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """A private PostgreSQL server for the session (the hub's engine)."""
    folder = Path(tempfile.mkdtemp(prefix="companion-pg-"))  # not under pytest's 0700 tree: postgres reads it
    try:
        with private_server(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The device's SQLite file, and a PostgreSQL database as the hub has it: the web page on either."""
    url = (
        request.getfixturevalue("postgres_server").create_database()
        if request.param == "postgresql"
        else None
    )
    with Database(tmp_path, url=url) as opened:
        yield opened


@pytest.fixture
def catalogue_database(any_database: Database) -> Database:
    """A database (SQLite, and PostgreSQL) with the shipped Danish group catalogue in it."""
    dialogs = Path(__file__).parent.parent / "dialogs"
    seed_catalogue(any_database.engine, load_catalogue(dialogs, "da"), "da")
    return any_database
