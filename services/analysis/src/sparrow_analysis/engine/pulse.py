"""Tempo, beats, bars and meter, from librosa's onset envelope and beat tracker.

A tracker finds a beat in anything, noise included, so a tempo is only said when
something strikes (the onset envelope rises past ONSET_FLOOR) and the envelope
really repeats at the beat's period (its autocorrelation at
that lag, `clarity`, is at least STEADY); otherwise the clip has no steady beat
and says so. Bars: every beat gets an accent (how much the low end hits, and
how much the harmony moves, each measured against the clip's own spread); the
meter (3 or 4) and the first downbeat are those whose beats stand out most from
the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

HOP = 512
# Autocorrelation of the onset envelope at the beat's period, below which the
# clip has no steady beat (drum loops read 0.5 to 0.9, noise and pads under 0.2).
STEADY = 0.3
# librosa's onset strength (dB of rise, averaged over mel bands, relative to the
# clip's loudest): a held tone's never passes 0.2, a drum hit's reaches 5 to 30.
# A clip where nothing strikes has no beat, however regular its ripple.
ONSET_FLOOR = 1.0
METERS = (4, 3)


@dataclass(frozen=True)
class Pulse:
    tempo_bpm: float | None
    beats_s: list[float]
    downbeats_s: list[float]
    meter: int | None
    clarity: float


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def clarity(onset: np.ndarray, period_frames: float) -> float:
    """How much the onset envelope repeats at `period_frames` (0 to 1)."""
    centred = onset - onset.mean()
    ac = librosa.autocorrelate(centred)
    if ac[0] <= 0:
        return 0.0
    ac = ac / ac[0]
    lag = int(round(period_frames))
    if lag < 1 or lag + 2 >= len(ac):
        return 0.0
    return float(max(ac[max(lag - 2, 1) : lag + 3].max(), 0.0))


def pulse(y: np.ndarray, sr: int) -> Pulse:
    """The pulse of a mono clip."""
    none = Pulse(None, [], [], None, 0.0)
    if len(y) < 2 * sr or np.abs(y).max() < 1e-4:
        return none
    onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP)
    if onset.max() < ONSET_FLOOR:
        return none
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=HOP)
    tempo = float(np.atleast_1d(tempo)[0])
    if tempo <= 0 or len(beats) < 4:
        return none
    steady = clarity(onset, 60.0 / tempo * sr / HOP)
    if steady < STEADY:
        return Pulse(None, [], [], None, steady)
    beat_times = librosa.frames_to_time(beats, sr=sr, hop_length=HOP)
    tempo = _refined(tempo, beat_times)
    meter, first = _bars(y, sr, beats)
    downbeats = beat_times[first::meter]
    return Pulse(round(tempo, 2), [round(float(t), 3) for t in beat_times],
                 [round(float(t), 3) for t in downbeats], meter, steady)


def _refined(tempo: float, beat_times: np.ndarray) -> float:
    """The tracker's tempo comes in steps of one frame of lag (about 2% at 140
    bpm); a line through the beats' times, whose slope is the beat's period,
    gives it to a fraction of that, when the beats are that regular."""
    index = np.arange(len(beat_times))
    slope, intercept = np.polyfit(index, beat_times, 1)
    residual = beat_times - (slope * index + intercept)
    if slope <= 0 or np.abs(residual).max() > 0.25 * slope:
        return tempo
    return 60.0 / slope


def _bars(y: np.ndarray, sr: int, beats: np.ndarray) -> tuple[int, int]:
    """(beats to the bar, index of the first downbeat) that make the downbeats stand out most."""
    low = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP, fmax=200, n_mels=32)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=HOP)
    frames = np.minimum(beats, min(len(low), chroma.shape[1]) - 1)
    # The low end's hit at each beat (a frame either side), and the harmony's
    # change from the beat before.
    hits = np.array([low[max(f - 1, 0) : f + 2].max() for f in frames])
    per_beat = chroma[:, frames]
    change = np.r_[0.0, np.linalg.norm(np.diff(per_beat, axis=1), axis=0)]
    accent = _zscore(hits) + _zscore(change)
    best, choice = -np.inf, (4, 0)
    for meter in METERS:
        if len(accent) < 2 * meter:
            continue
        for first in range(meter):
            on = accent[first::meter]
            off = np.delete(accent, np.arange(first, len(accent), meter))
            contrast = on.mean() - off.mean()
            if contrast > best + 1e-6:
                best, choice = contrast, (meter, first)
    return choice
