"""Loudness (ITU-R BS.1770 / EBU R128, with pyloudnorm) and peak level."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm

# pyloudnorm's gating blocks are 400 ms: nothing shorter can be measured.
MIN_S = 0.4


def lufs(y: np.ndarray, sr: int) -> float | None:
    """Integrated loudness of a mono clip in LUFS; None for silence or under 400 ms."""
    if len(y) < MIN_S * sr:
        return None
    value = pyloudnorm.Meter(sr).integrated_loudness(np.asarray(y, dtype=np.float64))
    return round(float(value), 2) if math.isfinite(value) else None


def peak_dbfs(y: np.ndarray) -> float | None:
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return round(20 * math.log10(peak), 2) if peak > 0 else None
