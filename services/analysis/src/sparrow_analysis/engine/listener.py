"""The analysis of one clip: mono at RATE, then pulse, bars, key and loudness."""

from __future__ import annotations

import librosa
import numpy as np

from sparrow_analysis.domain import Analysis
from sparrow_analysis.engine.bars import bars
from sparrow_analysis.engine.heard import hear
from sparrow_analysis.engine.key import key
from sparrow_analysis.engine.loudness import lufs, peak_dbfs
from sparrow_analysis.engine.pulse import pulse

# Every analysis runs at this rate: enough for beats, chroma and loudness, and a
# quarter of the work of 44.1 kHz stereo.
RATE = 22050
# Under this peak a clip is silence: nothing to hear.
SILENT = 1e-4


def mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(channels, samples) or (samples,) at `sample_rate` -> mono float32 at RATE."""
    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if sample_rate != RATE:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=RATE, res_type="soxr_hq")
    return y


def analyze(audio: np.ndarray, sample_rate: int) -> Analysis:
    """Tempo, beats, bars, key and loudness of a clip."""
    y = mono(audio, sample_rate)
    duration = round(len(y) / RATE, 3)
    loudness = dict(loudness_lufs=lufs(y, RATE), peak_dbfs=peak_dbfs(np.asarray(audio)), duration_s=duration)
    if len(y) < RATE // 2 or np.abs(y).max() < SILENT:
        return Analysis(tempo_bpm=None, **loudness)
    heard = hear(y, RATE)
    found = pulse(heard)
    heard_key = key(heard)
    common = dict(
        key=heard_key.name,
        key_confidence=heard_key.confidence,
        key_runner_up=heard_key.runner_up,
        tempo_confidence=found.confidence,
        **loudness,
    )
    if found.tempo_bpm is None:
        return Analysis(tempo_bpm=None, **common)
    grouped = bars(heard, found.beat_frames, found.subdivision, found.split, found.bar)
    downbeats = found.beats_s[grouped.first :: grouped.meter]
    return Analysis(
        tempo_bpm=found.tempo_bpm,
        beats_s=found.beats_s,
        downbeats_s=downbeats,
        meter=grouped.meter,
        time_signature=grouped.time_signature,
        **common,
    )
