"""Speech to text with sherpa-onnx: a NeMo CTC model (model.onnx and tokens.txt), for recognisers trained
on Danish that are not Whisper. Chosen per model in the manifest (`backend = "sherpa-onnx-nemo-ctc"`);
faster-whisper stays the default. The `sherpa` extra installs it.

Silence is trimmed as for Whisper; a CTC model takes no hints, and its own confidence is the mean
log-probability of the tokens it wrote.
"""

from __future__ import annotations

import logging
from typing import Any

from companion.errors import MissingPackageError, ModelError, SttError
from companion.events import CAPTURE_RATE, Transcript
from companion.stages.stt import SttOptions, not_loaded, recogniser_threads, speech_in

log = logging.getLogger(__name__)


class SherpaCtcTranscriber:
    def __init__(self, options: SttOptions) -> None:
        self.options = options
        self._recognizer: Any = None
        self.hotwords = ""
        """Kept for the same interface as Whisper's: greedy CTC decoding takes no hints."""

    def start(self) -> None:
        try:
            import sherpa_onnx
        except ImportError as error:
            raise MissingPackageError("sherpa_onnx", "sherpa-onnx") from error
        model, tokens = self.options.model_path / "model.onnx", self.options.model_path / "tokens.txt"
        if not (model.is_file() and tokens.is_file()):
            raise ModelError(
                f"The speech recognition model is missing: {model} and {tokens}", "companion models install"
            )
        try:
            self._recognizer = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(
                model=str(model), tokens=str(tokens), num_threads=recogniser_threads(self.options)
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise not_loaded(self.options.model_path, error) from error

    def transcribe(self, audio: bytes) -> Transcript:
        if self._recognizer is None:
            self.start()
        speech = speech_in(audio, self.options.vad_threshold)
        if speech.size == 0:
            return Transcript("", self.options.language)
        try:
            stream = self._recognizer.create_stream()
            stream.accept_waveform(CAPTURE_RATE, speech)
            self._recognizer.decode_stream(stream)
        except RuntimeError as error:
            raise SttError(f"Speech recognition failed: {error}") from error
        text = str(stream.result.text).strip()
        scores = [float(score) for score in getattr(stream.result, "ys_log_probs", [])]
        confidence = sum(scores) / len(scores) if scores else 0.0
        log.debug(
            "heard %d ms of speech as %d characters (sherpa-onnx)",
            speech.size * 1000 // CAPTURE_RATE,
            len(text),
        )
        return Transcript(text, self.options.language, sure=confidence >= self.options.unsure_below)

    def close(self) -> None:
        self._recognizer = None
