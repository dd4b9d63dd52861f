"""Tuning of the process itself, for `companion run` and `companion web` (free of heavy imports)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

__all__ = ["limit_malloc_arenas"]


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas before the models start their threads.

    Each thread that allocates (the recogniser's, the voice's, each turn's) otherwise gets an arena of its
    own that keeps freed memory; on a 4 GB Pi that memory belongs to the LLM. Measured on the dev models:
    about 50 MB less resident memory after a few dozen turns (benchmarks/RESULTS.md).
    """
    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or name is None:
        return
    m_arena_max = -8  # from glibc's malloc.h
    try:
        ctypes.CDLL(name).mallopt(m_arena_max, arenas)
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt: nothing to tune
        log.debug("mallopt is not available; malloc arenas left as they are")
