"""The models of the speech loop, resolved from the manifest's profile and loaded once.

Construction only works out paths; `start()` loads every model (the slow part, done once per process) and
warms the LLM's prompt prefix, so the first turn already finds the persona in llama.cpp's KV cache.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from companion.content import Phrases, load_persona, load_phrases
from companion.errors import SettingsError
from companion.llm import LlamaChat, LlmOptions
from companion.mind.build import mind_from_settings
from companion.mind.policy import Mind
from companion.pipeline import Pipeline
from companion.settings import Settings, data_dir, dialogs_dir
from companion.stages.stt import SttOptions, Transcriber, WhisperTranscriber, encoder_window
from companion.stages.tts import PiperSynthesizer, TtsOptions
from companion.stages.vad import SileroVad
from companion.store.database import Database
from models import Manifest, ModelEntry, load_manifest, model_path

log = logging.getLogger(__name__)


def spoken_language(settings: Settings, manifest: Manifest) -> str:
    """The language setting, or the installed profile's language when it is `auto`.

    A language the profile's models do not speak stops start-up: an English voice reading Danish (or a
    recogniser forced to hear a language it never learned) is worse than no answer.
    """
    profile = manifest.profile(settings.general.model_profile)
    language = settings.general.language
    if language not in ("auto", profile.language):
        raise SettingsError(
            f"[general] language = {language!r}, but the models of the {profile.name!r} profile speak "
            f"{profile.language!r}.",
            "Set language = 'auto', or choose a model_profile in that language.",
        )
    return profile.language


@dataclass
class Engines:
    transcriber: Transcriber | None
    chat: LlamaChat
    synthesizer: PiperSynthesizer
    vad: SileroVad | None
    phrases: Phrases
    language: str
    mind: Mind

    def start(self) -> None:
        for name, part in (
            ("speech recogniser", self.transcriber),
            ("voice activity detector", self.vad),
            ("language model", self.chat),
            ("voice", self.synthesizer),
        ):
            if part is None:
                continue
            began = time.perf_counter()
            part.start()
            log.info("%s loaded in %.2f s", name, time.perf_counter() - began)
        self.chat.warm_up()
        self.mind.warm_up()

    def pipeline(self) -> Pipeline:
        return Pipeline(self.transcriber, self.mind, self.synthesizer, self.phrases)

    def close(self) -> None:
        for part in (self.transcriber, self.chat, self.synthesizer):
            if part is not None:
                part.close()


def llm_options(settings: Settings, entry: ModelEntry, where: Path) -> LlmOptions:
    """The [llm] settings for the manifest's model file in the data directory `where`."""
    return LlmOptions(
        model_path=model_path(entry, where),
        style=entry.prompt_style or "chat",
        context_tokens=settings.llm.context_tokens,
        threads=settings.llm.threads,
        max_reply_tokens=settings.llm.max_reply_tokens,
        history_turns=settings.llm.history_turns,
        prompt_tokens=settings.llm.prompt_tokens,
        temperature=settings.llm.temperature,
        seed=settings.llm.seed,
    )


def make_transcriber(stt: ModelEntry, settings: Settings, language: str) -> Transcriber:
    """The recogniser of a speech model, by its backend in the manifest (faster-whisper or sherpa-onnx)."""
    options = SttOptions(
        model_path=model_path(stt, data_dir(settings)),
        language=language,
        beam_size=settings.stt.beam_size,
        threads=settings.stt.threads,
        initial_prompt=settings.stt.initial_prompt,
        vad_threshold=settings.listening.vad_threshold,
        unsure_below=settings.stt.unsure_below,
        encoder_window_s=encoder_window(settings.stt.encoder_window_s, language),
    )
    if stt.stt_backend == "sherpa-onnx-nemo-ctc":
        from companion.stages.stt_sherpa import SherpaCtcTranscriber

        return SherpaCtcTranscriber(options)
    return WhisperTranscriber(options)


def build_engines(
    settings: Settings,
    *,
    hearing: bool = True,
    manifest_path: Path | None = None,
    database: Database | None = None,
) -> Engines:
    """Resolve every model of the settings' profile. `hearing=False` skips the recogniser (typed input).
    With an open `database` the mind's reminders and catalogue live there; without, in RAM."""
    manifest = load_manifest(manifest_path)
    profile = manifest.profile(settings.general.model_profile)
    language = spoken_language(settings, manifest)
    where = data_dir(settings)
    llm_entry = manifest.models[profile.llm]
    dialogs = dialogs_dir(settings)
    chat = LlamaChat(llm_options(settings, llm_entry, where), load_persona(dialogs, language))
    transcriber = make_transcriber(manifest.models[profile.stt], settings, language) if hearing else None
    synthesizer = PiperSynthesizer(
        TtsOptions(
            model_path=model_path(manifest.models[profile.tts], where),
            length_scale=settings.speech.length_scale,
            volume=settings.speech.volume,
        )
    )
    return Engines(
        transcriber=transcriber,
        chat=chat,
        synthesizer=synthesizer,
        vad=SileroVad() if hearing else None,
        phrases=load_phrases(dialogs, language),
        language=language,
        mind=mind_from_settings(settings, language, chat, synthesizer, database),
    )
