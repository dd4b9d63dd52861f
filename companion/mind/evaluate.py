"""`companion eval-dialog`: the scenario runner with its language model, if any, loaded once."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Literal

from companion.content import load_persona
from companion.engines import llm_options
from companion.llm import LlamaChat
from companion.mind.policy import SmallTalk
from companion.mind.scenarios import run_files
from companion.settings import Settings, data_dir, dialogs_dir
from models import load_manifest

# Scenario runs should be repeatable: the same seed gives the same small talk every time.
_SEED = 1234


def dev_chat(settings: Settings) -> LlamaChat:
    """The dev profile's language model, whatever profile the device uses."""
    manifest = load_manifest()
    entry = manifest.models[manifest.profile("dev").llm]
    options = replace(llm_options(settings, entry, data_dir(settings)), seed=_SEED)
    return LlamaChat(options, load_persona(dialogs_dir(settings), "en"))


def evaluate_dialog(
    settings: Settings, files: list[Path], llm: Literal["none", "dev"], show_passes: bool = False
) -> int:
    dialogs = dialogs_dir(settings)
    chat = dev_chat(settings) if llm == "dev" else None

    def chat_for(language: str) -> SmallTalk | None:
        if chat is None:
            return None
        chat.persona = load_persona(dialogs, language)
        chat.forget()
        return chat

    try:
        if chat is not None:
            chat.start()
        return run_files(files, dialogs, chat_for, sys.stdout, show_passes)
    finally:
        if chat is not None:
            chat.close()
