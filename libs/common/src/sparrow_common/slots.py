"""A worker's slots and its bounded queue of waiting calls."""

from __future__ import annotations

import asyncio
from collections import deque

from sparrow_common.errors import Busy


class Slots:
    """`slots` calls run at once; up to `queue_limit` more wait in line, in order.
    Past that, Busy (RESOURCE_EXHAUSTED) so callers back off and retry."""

    def __init__(self, slots: int, queue_limit: int):
        self.slots = slots
        self.queue_limit = queue_limit
        self.busy = 0
        self._line: deque[asyncio.Future] = deque()

    @property
    def queued(self) -> int:
        return len(self._line)

    def reserve(self) -> asyncio.Future | None:
        """None when a slot is free now; otherwise a future that resolves when
        this call's turn comes (its place in line is `position(future)`)."""
        if self.busy < self.slots and not self._line:
            self.busy += 1
            return None
        if len(self._line) >= self.queue_limit:
            raise Busy(
                f"the worker is full ({self.busy} running, {len(self._line)} waiting); try again shortly"
            )
        turn = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        return turn

    def position(self, turn: asyncio.Future) -> int:
        """1 for the next in line."""
        return self._line.index(turn) + 1 if turn in self._line else 0

    def leave(self, turn: asyncio.Future) -> None:
        """A waiting call gave up: leave the line, or give back the slot it was handed."""
        if turn in self._line:
            self._line.remove(turn)
        elif turn.done() and not turn.cancelled():
            self.release()

    def release(self) -> None:
        """A running call finished: hand its slot to the next in line."""
        while self._line:
            turn = self._line.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.busy -= 1
