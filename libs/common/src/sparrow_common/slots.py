"""A worker's slots and its bounded queue of waiting calls."""

from __future__ import annotations

import asyncio
from collections import deque

from sparrow_common.errors import Busy


class Slots:
    """`slots` units of work run at once; up to `queue_limit` more calls wait in
    line, in order. Past that, Busy (RESOURCE_EXHAUSTED) so callers back off and
    retry. A call takes one unit, or as many as it weighs (a generation call
    weighs its decoder rows): it runs once its units are free and every call
    ahead of it has started, so a heavy call is never passed over for ever."""

    def __init__(self, slots: int, queue_limit: int):
        self.slots = slots
        self.queue_limit = queue_limit
        self.busy = 0
        self._line: deque[tuple[asyncio.Future, int]] = deque()

    @property
    def queued(self) -> int:
        return len(self._line)

    def reserve(self, weight: int = 1) -> asyncio.Future | None:
        """None when `weight` units are free now (and none wait); otherwise a
        future that resolves when this call's turn comes (its place in line is
        `position(future)`)."""
        if weight > self.slots:
            raise ValueError(f"a call of {weight} can never fit in {self.slots} slots")
        if self.busy + weight <= self.slots and not self._line:
            self.busy += weight
            return None
        if len(self._line) >= self.queue_limit:
            raise Busy(
                f"the worker is full ({self.busy} of {self.slots} busy, {len(self._line)} waiting); try again shortly"
            )
        turn = asyncio.get_running_loop().create_future()
        self._line.append((turn, weight))
        return turn

    def position(self, turn: asyncio.Future) -> int:
        """1 for the next in line."""
        for index, (waiting, _) in enumerate(self._line):
            if waiting is turn:
                return index + 1
        return 0

    def leave(self, turn: asyncio.Future, weight: int = 1) -> None:
        """A waiting call gave up: leave the line, or give back the units it was handed."""
        for entry in self._line:
            if entry[0] is turn:
                self._line.remove(entry)
                self._admit()
                return
        if turn.done() and not turn.cancelled():
            self.release(weight)

    def release(self, weight: int = 1) -> None:
        """A running call finished: hand its units on to the calls next in line."""
        self.busy -= weight
        self._admit()

    def _admit(self) -> None:
        while self._line:
            turn, weight = self._line[0]
            if turn.done():  # cancelled while waiting
                self._line.popleft()
                continue
            if self.busy + weight > self.slots:
                return
            self._line.popleft()
            self.busy += weight
            turn.set_result(None)
