"""How a model worker's process allocates memory.

A decoding step allocates and frees the same few hundred tensors every time,
many of them over glibc's default mmap threshold (128 kB, adjusted upwards only
in the main thread's arena): each such tensor is then a fresh mmap, page faults
as it is filled, and a munmap. In the worker thread that runs the model this
made a musicgen-small take nearly twice as slow as the same call in the main
thread. Serving them from the heap, and keeping freed heap memory for the next
step, removes that: the process keeps its peak memory instead of handing it
back between calls, which a worker holding a model does anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit machines.
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024


def reuse_freed_memory() -> bool:
    """Allocations under 32 MiB come from the heap, and up to 1 GiB of freed heap
    is kept for reuse. True when applied (glibc); elsewhere nothing changes."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.info("not glibc: memory allocation left as it is")
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
