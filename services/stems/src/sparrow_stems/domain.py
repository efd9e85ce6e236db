"""What the worker is asked to split and what it hands back. No gRPC, no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# What htdemucs and most of Meta's releases write; htdemucs_6s adds guitar and
# piano. A model's own list (its `sources`) is what streams back.
FOUR_STEMS = ("drums", "bass", "other", "vocals")


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
    """The mix split into the model's stems, each as long as the mix."""

    # Stem name -> (channels, samples) float32, in the model's order.
    audio: dict[str, np.ndarray]
    sample_rate: int
    # The model that split it.
    model: str = ""

    @property
    def duration_s(self) -> float:
        return next(iter(self.audio.values())).shape[-1] / self.sample_rate
