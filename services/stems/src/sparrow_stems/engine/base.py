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
    # The models offered, the default first, and why any of them could not load.
    model_ids: list[str]
    unavailable: dict[str, str]

    def stems_of(self) -> dict[str, list[str]]:
        """Each loaded model's stems, in the order they stream back."""

    def format_of(self, model_id: str = "") -> tuple[int, int]:
        """The sample rate and channels a model takes its mix at; ValueError for
        a model not offered."""

    def separate(self, mix: Mix, on_step: StepCallback, cancel: threading.Event, model_id: str = "") -> Stems:
        """The stems of `mix` by model `model_id` ("" the default); raises
        Cancelled once `cancel` is set."""
