"""Streaming voice-activity detection with the Silero VAD model that faster-whisper already ships.

faster-whisper's own wrapper resets the model's recurrent state on every call, which suits whole files
but not a live microphone; this one keeps the state from frame to frame so each 32 ms frame costs one
small inference.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from companion.errors import MissingPackageError, SttError

FRAME_SAMPLES = 512
_CONTEXT_SAMPLES = 64


def silero_model_path() -> str:
    try:
        from faster_whisper.utils import get_assets_path
    except ImportError as error:
        raise MissingPackageError("faster_whisper", "faster-whisper") from error
    return os.path.join(get_assets_path(), "silero_vad_v6.onnx")


class SileroVad:
    """Speech probability per 512-sample frame of 16 kHz int16 audio."""

    def __init__(self) -> None:
        self._session: Any = None
        self.reset()

    def start(self) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One thread: the VAD runs beside the recogniser and the LLM and must not compete with them.
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(
            silero_model_path(), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)

    def __call__(self, audio: bytes) -> float:
        """The highest speech probability over the 512-sample frames of `audio` (the last one zero-padded)."""
        if self._session is None:
            self.start()
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        padded = np.pad(samples, (0, -samples.size % FRAME_SAMPLES))
        best = 0.0
        for frame in padded.reshape(-1, FRAME_SAMPLES):
            window = np.concatenate([self._context, frame])[None, :]
            try:
                probs, self._h, self._c = self._session.run(
                    None, {"input": window, "h": self._h, "c": self._c}
                )
            except Exception as error:  # onnxruntime's errors share no narrower base class
                raise SttError(f"Voice activity detection failed: {error}") from error
            self._context = frame[-_CONTEXT_SAMPLES:]
            best = max(best, float(np.asarray(probs).reshape(-1)[0]))
        return best
