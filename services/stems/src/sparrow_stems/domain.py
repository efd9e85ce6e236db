"""What the worker is asked to split and what it hands back. No gRPC, no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The stems every model this worker serves writes, in the order they stream back.
STEM_NAMES = ("drums", "bass", "other", "vocals")


@dataclass(frozen=True)
class Mix:
    """The audio to split, decoded at the model's rate and channels."""

    # (channels, samples) float32.
    audio: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


@dataclass(frozen=True)
class Stems:
    """The mix split in four, each as long as the mix."""

    # Stem name -> (channels, samples) float32, in STEM_NAMES order.
    audio: dict[str, np.ndarray]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return next(iter(self.audio.values())).shape[-1] / self.sample_rate
