"""The analysis of one clip: mono at RATE, then pulse, key and loudness."""

from __future__ import annotations

import librosa
import numpy as np

from sparrow_analysis.domain import Analysis
from sparrow_analysis.engine.key import key
from sparrow_analysis.engine.loudness import lufs, peak_dbfs
from sparrow_analysis.engine.pulse import pulse

# Every analysis runs at this rate: enough for beats, chroma and loudness, and a
# quarter of the work of 44.1 kHz stereo.
RATE = 22050


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
    found = pulse(y, RATE)
    name, confidence = key(y, RATE)
    # Loudness on the clip as it is (its own rate, every channel summed as BS.1770 does).
    return Analysis(
        tempo_bpm=found.tempo_bpm, beats_s=found.beats_s, downbeats_s=found.downbeats_s, meter=found.meter,
        key=name, key_confidence=confidence, loudness_lufs=lufs(y, RATE), peak_dbfs=peak_dbfs(np.asarray(audio)),
        duration_s=round(len(y) / RATE, 3),
    )
