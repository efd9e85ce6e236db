"""The Engine protocol: load once, split a mix, report every segment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from sparrow_common.engine import Cancelled, ModelUnavailable, WorkerEngine

from sparrow_stems.domain import Mix, Stems

__all__ = ["Cancelled", "Engine", "ModelUnavailable", "StepCallback"]

# Called from the engine's thread: (segments done, segments in all), first with 0.
StepCallback = Callable[[int, int], None]


class Engine(WorkerEngine, Protocol):
    def separate(self, mix: Mix, on_step: StepCallback, cancel: threading.Event) -> Stems:
        """The four stems of `mix`; raises Cancelled once `cancel` is set."""
