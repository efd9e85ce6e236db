"""Beats at a known tempo by dynamic programming (Ellis 2007): the same tracker
as `librosa.beat.beat_track(onset_envelope=..., bpm=..., trim=...)` at one
static tempo, beat for beat, with its kernels compiled into numba's cache.

Why not librosa's own: importing `librosa.beat` compiles one of its kernels
(`__beat_local_score`, built with `cache=False`) in every process that hears a
clip, some 3.6 s of CPU each time an analysis worker or a test starts. Here every
kernel is cached, so the install's warm-up (`Listener.load`) compiles them once.
"""

from __future__ import annotations

import librosa
import numba
import numpy as np


def beat_frames(envelope: np.ndarray, fps: float, bpm: float, tightness: float, trim: bool = True) -> np.ndarray:
    """Frame indices of the beats tracked in an onset `envelope` (`fps` frames a
    second) at `bpm`; `tightness` is how closely beats keep to it; `trim` drops
    weak beats at either end."""
    envelope = np.asarray(envelope)
    if not envelope.any():
        return np.array([], dtype=int)
    period = float(np.round(fps * 60.0 / bpm))
    # Scaled in the envelope's own precision, then heard in float64, as librosa does.
    normalized = envelope / (envelope.std(ddof=1) + np.finfo(envelope.dtype).tiny)
    score = _local_score(normalized.astype(np.float64), period)
    backlink, cumulative = _best_paths(score, period, float(tightness))
    on_beat = np.zeros(len(envelope), dtype=np.bool_)
    step = _last_beat(cumulative)
    while step >= 0:
        on_beat[step] = True
        step = backlink[step]
    return np.flatnonzero(_trimmed(score, on_beat, trim))


@numba.njit(cache=True)
def _local_score(envelope, period):
    """The envelope smoothed by a Gaussian a beat wide (a same-size convolution)."""
    window = np.exp(-0.5 * (np.arange(-period, period + 1) * 32.0 / period) ** 2)
    n, k = len(envelope), len(window)
    score = np.zeros(n)
    for i in range(n):
        for j in range(max(0, i + k // 2 - n + 1), min(i + k // 2, k)):
            score[i] += window[j] * envelope[i + k // 2 - j]
    return score


@numba.njit(cache=True)
def _best_paths(score, period, tightness):
    """Each frame's best previous beat (half a beat to two beats back, a jump off
    the tempo penalised) and the best path's cumulative score to it."""
    n = len(score)
    backlink = np.full(n, -1, dtype=np.int64)
    cumulative = np.zeros(n)
    threshold = 0.01 * score.max()
    first = True
    for i in range(n):
        best, where = -np.inf, -1
        for at in range(i - int(np.round(period / 2)), i - int(2 * period) - 1, -1):
            if at < 0:
                break
            candidate = cumulative[at] - tightness * (np.log(i - at) - np.log(period)) ** 2
            if candidate > best:
                best, where = candidate, at
        cumulative[i] = score[i] + best if where >= 0 else score[i]
        # The path starts at the first frame strong enough to be a beat.
        if first and score[i] < threshold:
            backlink[i] = -1
        else:
            backlink[i] = where
            first = False
    return backlink, cumulative


def _last_beat(cumulative: np.ndarray) -> int:
    """The last local peak of the cumulative score at least half the peaks' median."""
    peaks = librosa.util.localmax(cumulative)
    if not peaks.any():
        return len(cumulative) - 1
    threshold = 0.5 * np.median(cumulative[peaks])
    strong = np.flatnonzero(peaks & (cumulative >= threshold))
    return int(strong[-1]) if len(strong) else len(cumulative) - 1


@numba.njit(cache=True)
def _trimmed(score, on_beat, trim):
    """Beats without those at either end weaker than half the beats' smoothed RMS."""
    kept = on_beat.copy()
    w = np.hanning(5)
    smooth = np.convolve(score[on_beat], w)[len(w) // 2 : len(score) + len(w) // 2]
    threshold = 0.5 * np.sqrt((smooth**2).mean()) if trim else 0.0
    n = 0
    while n < len(score) and score[n] <= threshold:
        kept[n] = False
        n += 1
    n = len(score) - 1
    while n >= 0 and score[n] <= threshold:
        kept[n] = False
        n -= 1
    return kept
