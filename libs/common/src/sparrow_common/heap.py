"""glibc's heap for a GPU worker's model thread (stems and generation).

The model runs in a thread of its own, never the event loop's, and glibc gives
each thread an arena of its own: a thread arena grows in 64 MiB heaps, so every
tensor bigger than that (a segment's stems, the spectrogram) is mapped and
unmapped each segment whatever the mmap threshold says, page faults and all.
Measured on the htdemucs architecture on 2 cores: apply_model took 6.5% longer
in a thread than in the main thread; with one arena for every thread, the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt's option numbers (malloc.h).
M_ARENA_MAX = -8


def one_arena() -> bool:
    """Every thread allocates from the main arena from now on; call it before
    any thread starts. False (and nothing changed) off glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.mallopt(M_ARENA_MAX, 1) == 1
    except (OSError, AttributeError):
        log.info("not glibc: threads keep their own heaps")
        return False
