"""The chain service's CPU-heavy audio work on a bounded pool of its own.

Checking an upload decodes the whole file; a take's context and melody decode
the path; a finished take is checked as it is stored. Run on asyncio's default
thread pool, this work queued in front of every store read: twenty uploads of
long files held a plain GET of a chain for seconds. Here it runs on
CHAIN_AUDIO_THREADS threads of its own (as many as the cores it should use),
and waits there, while reads keep the default pool to themselves.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class AudioWork:
    def __init__(self, threads: int):
        if threads < 1:
            raise ValueError("CHAIN_AUDIO_THREADS must be at least 1")
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="audio")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) on the audio pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
