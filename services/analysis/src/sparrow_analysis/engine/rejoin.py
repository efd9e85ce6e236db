"""Where a take comes back into the music it replaces a stretch of: the rejoin.

MusicGen only hears the past, so a stretch is replaced the way a producer would
do it: a take continues the part from the cut (`from_s`, the take's first
sample) and runs on past the point where the part should come back (`asked_s`);
the part then comes back where the two sound most alike, on a downbeat, under an
equal-power crossfade about a beat long. Choosing that point by listening is
what this module does (the crossfade is the renderer's).

Candidates: the part's downbeats within a bar of `asked_s` (or its beats when
only beats are known, or every HOP_S without a grid). At each, the take and the
part are compared through the crossfade and a beat after it (MATCH_S without a
tempo): what the part plays on from there against what the take would have
played (the take before the point is heard either way), as the seam report
compares a take with its path:

- harmony: the cosine of their mean pitch classes (1: the same chord);
- level: the difference of their mean levels, in dB;
- spectrum: the mean difference of their mel band levels, in dB;
- beat offset: the lag, within half a beat, at which their onsets line up best
  (0 ms: the take is on the part's beat there).

The match multiplies one factor per figure, each 1 when alike: the harmony's
cosine, exp(-(level dB / 6)^2), exp(-(spectrum dB / 12)^2), and 1 - (|offset|
past ON_BEAT_MS) / (half a beat less it). The candidate with the best match is
the rejoin; of equal ones, the nearest to `asked_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from sparrow_analysis.engine.heard import HOP, hear

# Compared either side of a candidate when no tempo is known, and the candidates'
# spacing without a grid.
MATCH_S = 0.5
HOP_S = 0.1
CONTEXT_S = 2.0
# A crossfade lasts about a beat, within these.
CROSSFADE_S = (0.02, 0.5)
ON_BEAT_MS = 30.0
N_MELS = 40


@dataclass(frozen=True)
class Rejoin:
    at_s: float  # in the part's time: where the part comes back
    crossfade_s: float  # the crossfade's length, centred on at_s
    match: float  # 0 to 1: how alike the take and the part sound there
    harmony: float  # cosine of their pitch classes
    level_db: float
    spectrum_db: float
    offset_ms: float
    on: str  # "downbeat", "beat" or "time": the grid the point was chosen on


def rejoin(
    take: np.ndarray,
    part: np.ndarray,
    sr: int,
    from_s: float,
    asked_s: float,
    downbeats_s: list[float] | None = None,
    beats_s: list[float] | None = None,
    bpm: float | None = None,
) -> Rejoin | None:
    """The rejoin of a `take` (mono, its first sample at `from_s` of the `part`)
    nearest `asked_s`, or None when the take and the part overlap nowhere near it."""
    beat_s = 60.0 / bpm if bpm else None
    side = beat_s if beat_s else MATCH_S
    crossfade = float(np.clip(beat_s if beat_s else 0.1, *CROSSFADE_S))
    reach = (beat_s * 4 if beat_s else 2.0) if downbeats_s else (beat_s if beat_s else 1.0)
    # Both sounding a beat either side of the point (the take ends, the part ends).
    earliest = from_s + side
    latest = min(from_s + len(take) / sr, len(part) / sr) - side
    candidates, on = _candidates(asked_s, reach, downbeats_s, beats_s)
    candidates = [t for t in candidates if earliest <= t <= latest]
    if not candidates:
        return None
    # Heard once over the stretch every candidate reads (and some seconds more: the
    # constant-Q's bass windows are long), the take aligned on the part.
    margin = max(2 * side, CONTEXT_S)
    lo = max(min(candidates) - margin, from_s)
    hi = min(max(candidates) + margin, latest + side)
    a, b, cut = int(lo * sr), int(hi * sr), int(from_s * sr)
    part_there, take_there = part[a:b], take[a - cut : b - cut]
    heard_part, heard_take = hear(part_there, sr), hear(take_there, sr)
    bands_part, bands_take = _bands(part_there, sr), _bands(take_there, sr)
    fps = sr / HOP
    half = side / 2  # the beat offset is looked for within half a beat either way
    best = None
    for t in candidates:
        f0, f1 = int((t - crossfade / 2 - lo) * fps), int((t + side - lo) * fps)
        n = min(f1, heard_part.frames, heard_take.frames, bands_part.shape[1], bands_take.shape[1])
        if n - f0 < 2:
            continue
        harmony = _cosine(heard_part.chroma[:, f0:n].mean(axis=1), heard_take.chroma[:, f0:n].mean(axis=1))
        level = float(abs(heard_part.level_db[f0:n].mean() - heard_take.level_db[f0:n].mean()))
        spectrum = float(np.abs(bands_part[:, f0:n].mean(axis=1) - bands_take[:, f0:n].mean(axis=1)).mean())
        offset = _offset_ms(heard_part.onsets, heard_take.onsets, (t - lo) * fps, side * fps, half * fps, fps)
        match = (
            max(harmony, 0.0)
            * float(np.exp(-((level / 6) ** 2)))
            * float(np.exp(-((spectrum / 12) ** 2)))
            * _on_beat(offset, half * 1000)
        )
        chosen = Rejoin(round(t, 4), crossfade, match, harmony, level, spectrum, offset, on)
        if best is None or match > best.match + 1e-9 or (
            abs(match - best.match) <= 1e-9 and abs(t - asked_s) < abs(best.at_s - asked_s)
        ):
            best = chosen
    return best


def _candidates(
    asked_s: float, reach: float, downbeats_s: list[float] | None, beats_s: list[float] | None
) -> tuple[list[float], str]:
    for grid, name in ((downbeats_s, "downbeat"), (beats_s, "beat")):
        near = [float(t) for t in grid or () if abs(t - asked_s) <= reach + 1e-6]
        if near:
            return near, name
    steps = int(round(reach / HOP_S))
    return [asked_s + k * HOP_S for k in range(-steps, steps + 1)], "time"


def _bands(y: np.ndarray, sr: int) -> np.ndarray:
    """Mel band levels per frame, in dB (HOP frames, as `hear`'s)."""
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=HOP, n_mels=N_MELS)
    return 10 * np.log10(mel + 1e-10)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _offset_ms(part: np.ndarray, take: np.ndarray, at: float, side: float, half: float, fps: float) -> float:
    """The lag (ms, the take late when positive) within `half` frames at which the
    take's onsets best line up with the part's over `side` frames around `at`."""
    lo, hi = int(at - side), int(at + side)
    reference = part[max(lo, 0) : hi]
    if len(reference) < 2 or not reference.any():
        return 0.0
    scores = {}
    for lag in range(-int(half), int(half) + 1):
        s0, s1 = max(lo, 0) + lag, hi + lag
        if s0 < 0 or s1 > len(take):
            continue
        scores[lag] = float(reference @ take[s0:s1])
    if not scores or max(scores.values()) <= 0:
        return 0.0
    top = max(scores.values())
    lag = min((lag for lag, s in scores.items() if s >= top - 1e-9), key=abs)
    return 1000.0 * lag / fps


def _on_beat(offset_ms: float, half_ms: float) -> float:
    past = max(abs(offset_ms) - ON_BEAT_MS, 0.0)
    return float(np.clip(1.0 - past / max(half_ms - ON_BEAT_MS, 1.0), 0.0, 1.0))
