"""The Engine protocol: load once, run a batch, report every step."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from sparrow_common.engine import Cancelled, ModelUnavailable, WorkerEngine

from sparrow_generation.domain import Continuation, Take

__all__ = ["Cancelled", "Engine", "ModelUnavailable", "StepCallback"]

# Called from the engine's thread after each decoding step: (step, total).
StepCallback = Callable[[int, int], None]


class Engine(WorkerEngine, Protocol):
    # The decoder rows it steps now, its steps run so far (each for every row
    # in flight) and its pace over the latest of them.
    rows_in_flight: int
    steps: int
    steps_per_second: float

    def total_steps(self, request: Continuation) -> int:
        """How many decoding steps `generate` will report for `request`."""

    def generate(self, request: Continuation, on_step: StepCallback, cancel: threading.Event) -> list[Take]:
        """Every take of the call, new audio only; raises Cancelled once `cancel`
        is set. Calls from many threads at once run together."""
