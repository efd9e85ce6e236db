"""What the worker is asked for, and the one place where the knobs become words
for MusicGen's text encoder. No gRPC, no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sparrow_common.params import Knobs

_ENERGY = {"low": "low energy, calm", "medium": "", "high": "high energy, driving"}
_TEMPO = {"slower": "slower tempo", "same": "", "faster": "faster tempo"}
_DENSITY = {"sparse": "sparse, minimal arrangement", "medium": "", "dense": "dense, full arrangement"}


def describe(knobs: Knobs) -> str:
    """The text MusicGen hears: the musician's prompt, then the knobs that move
    away from the middle, in words the model was trained on."""
    parts = [
        knobs.prompt.strip().rstrip(","),
        _ENERGY[knobs.energy],
        _TEMPO[knobs.tempo_feel],
        _DENSITY[knobs.density],
    ]
    return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Continuation:
    """One batch of takes continuing the same context."""

    # (channels, samples) float32 at the model's sample rate: what the takes continue
    # ((channels, 0) for takes from the words alone).
    context: np.ndarray
    knobs: Knobs
    seeds: tuple[int, ...]
    # (channels, samples) float32 at the model's sample rate, or None: a melody
    # whose chroma steers every take (melody checkpoints only).
    melody: np.ndarray | None = None

    @property
    def description(self) -> str:
        return describe(self.knobs)

    @property
    def rows(self) -> int:
        """Decoder rows the takes occupy while they are written: one each, two
        with guidance (its unconditional copy)."""
        return len(self.seeds) * (2 if self.knobs.cfg_coef > 1.0 else 1)


@dataclass(frozen=True)
class Take:
    seed: int
    # (channels, samples) float32: only the new audio.
    audio: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate
