"""How long long work still has to go, from the pace it has kept so far."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pace:
    """Seconds left of work that reports (done, total) steps. The pace is
    measured from the first update on: the time a call waited for a slot, and
    the setup before the model's first step, are not how fast it steps, so they
    don't count. One Pace per call."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        # (when, done) of the first update: where the measured pace starts.
        self._start: tuple[float, int] | None = None

    def eta_s(self, done: int, total: int) -> float | None:
        """Seconds left after this update, from the steps per second seen since
        the first one; None on the first update and while no step was timed."""
        now = self._clock()
        if self._start is None:
            self._start = (now, done)
            return None
        since, first_done = self._start
        if done <= first_done or now <= since:
            return None
        per_second = (done - first_done) / (now - since)
        return max(total - done, 0) / per_second


__all__ = ["Pace"]
