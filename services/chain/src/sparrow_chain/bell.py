"""Wakes chain watchers in this process the moment a write lands, here or (by
PostgreSQL NOTIFY, see `notices`) on another replica, instead of waiting for
their next poll."""

from __future__ import annotations

import asyncio


class EventBell:
    """Per-chain wake-ups. Arm before reading the log, then wait: a ring that
    lands between the read and the wait is not lost."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future]] = {}

    def arm(self, chain_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(chain_id, set()).add(future)
        return future

    async def wait(self, chain_id: str, future: asyncio.Future, timeout: float) -> None:
        """Wait for a ring on `future` (from `arm`) or the timeout."""
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(chain_id)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del self._waiters[chain_id]

    def ring(self, chain_id: str) -> None:
        for future in self._waiters.pop(chain_id, set()):
            if not future.done():
                future.set_result(None)

    def ring_all(self) -> None:
        """Wake every watcher (notifications may have been missed)."""
        for chain_id in list(self._waiters):
            self.ring(chain_id)
