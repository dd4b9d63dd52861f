"""The text-only and single-shot commands: `chat`, `say` and `transcribe`.

They go through the same engines and stages as the device loop, so what `chat` answers is what the device
would say.
"""

from __future__ import annotations

import sys
from pathlib import Path

from companion.engines import build_engines
from companion.errors import AudioDeviceError, CompanionError
from companion.events import AudioChunk, Clause, ReplyDelta, Transcript
from companion.settings import Settings, data_dir
from companion.store.database import Database
from hardware.simulated import TypedTextInput
from hardware.wav import WavFolderSink, read_as_captured, write_wav


def chat_loop(settings: Settings, speak_dir: Path | None = None) -> int:
    # The device's database: a reminder made here is one the device will speak.
    database = Database(data_dir(settings), settings.reminders.snapshots_kept).open()
    engines = build_engines(settings, hearing=False, database=database)
    sink = WavFolderSink(speak_dir) if speak_dir else None
    text_input = TypedTextInput()
    try:
        engines.chat.start()
        if sink is not None:
            engines.synthesizer.start()
        pipeline = engines.pipeline()
        while (line := text_input.read_line("you> ")) is not None:
            if not line.strip():
                continue
            print("companion> ", end="", flush=True)
            if sink is None:
                for piece in pipeline.dialog.respond(Transcript(line.strip(), engines.language)):
                    if isinstance(piece, ReplyDelta):
                        print(piece.text, end="", flush=True)
            else:
                sink.begin(engines.synthesizer.rate)
                for event in pipeline.turn(Transcript(line.strip(), engines.language)):
                    if isinstance(event, AudioChunk):
                        sink.write(event.audio)
                    elif isinstance(event, ReplyDelta):
                        print(event.text, end="", flush=True)
                sink.end()
                print(f"\n  (spoken into {sink.last_path})", end="")
            print(flush=True)
    finally:
        engines.close()
        database.close()
    return 0


def say(settings: Settings, text: str, out: Path) -> Path:
    engines = build_engines(settings, hearing=False)
    synthesizer = engines.synthesizer
    synthesizer.start()
    audio = bytearray()
    for event in engines.pipeline().speak(text):
        if isinstance(event, AudioChunk):
            audio += event.audio
        elif isinstance(event, Clause):
            print(f"saying: {event.text}", file=sys.stderr)
    if not audio:
        raise CompanionError(
            "There is nothing in that text the voice can say (only symbols or emoji).", "Give it some words."
        )
    return write_wav(out, bytes(audio), synthesizer.rate)


def transcribe_file(settings: Settings, wav: Path) -> str:
    if not wav.is_file():
        raise AudioDeviceError(f"There is no WAV file at {wav}.", "Check the path.")
    engines = build_engines(settings, hearing=True)
    assert engines.transcriber is not None
    audio = read_as_captured(wav)
    engines.transcriber.start()
    return engines.transcriber.transcribe(audio).text
