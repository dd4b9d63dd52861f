"""Tuning of the process itself, for `companion run` and `companion web` (free of heavy imports)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

__all__ = ["limit_malloc_arenas", "return_large_allocations"]


def _mallopt(option: int, value: int) -> None:
    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or name is None:
        return
    try:
        ctypes.CDLL(name).mallopt(option, value)
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt: nothing to tune
        log.debug("mallopt is not available; malloc left as it is")


def return_large_allocations(threshold_bytes: int = 1 << 20) -> None:
    """Give memory blocks of `threshold_bytes` and more back to the system as soon as they are freed.

    glibc otherwise raises this threshold to the largest block freed so far, and keeps later blocks of that
    size in the heap: one password check (argon2id works in 19 MiB) would stay in the web process's resident
    memory for good.
    """
    m_mmap_threshold = -3  # from glibc's malloc.h; setting it also stops glibc from moving it
    _mallopt(m_mmap_threshold, threshold_bytes)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas before the models start their threads.

    Each thread that allocates (the recogniser's, the voice's, each turn's) otherwise gets an arena of its
    own that keeps freed memory; on a 4 GB Pi that memory belongs to the LLM. Measured on the dev models:
    about 50 MB less resident memory after a few dozen turns (benchmarks/RESULTS.md).
    """
    m_arena_max = -8  # from glibc's malloc.h
    _mallopt(m_arena_max, arenas)
