"""A take's seam report: how it continues the path it follows.

Measured on the path's last seconds (`parent`) and the take's first seconds
(`take`), mono at one rate, with each side's own analysis:

- tempo change: the take's tempo against the path's, in percent, after folding
  a double or half tempo (a tracker may hear either);
- beat offset: the path's beat grid (its last CARRIED beats) carried on past the
  seam, against the take's first beats: the median distance in ms (wrapped to
  half a beat either way);
- key match: same, relative (the major and minor keys of the same notes), other;
- loudness step: the take's first SPAN_S against the path's last, in LU (dB);
- spectral jump: the take's first 100 ms against the path's last 100 ms, the
  mean difference of their mel band levels in dB (the score weighs only what it
  exceeds of the path's own changes from one 100 ms to the next, their 90th
  percentile over its last SPAN_S: a bar line's kick and chord change are music,
  not a seam);
- fades out: the take's last second sits more than FADE_DB under its median level;
- silent start: the take's first 300 ms sit more than SILENT_DB under its median
  level (or under -60 dBFS).

The path's tempo, beats and key are the musician's grid when the chain sends
one (`grid`: what was heard in the path, corrected), else what is heard in it.

The score multiplies one factor per figure, each 1 when the seam is clean:
exp(-(tempo% / 4)^2), 1 - (|offset| past ON_BEAT_MS) / (half a beat less it), 1 / 0.8 / 0.5 for the same /
relative / another key, exp(-(step dB / 6)^2), exp(-(jump past the usual dB / 12)^2), and 0.5
each for a fade-out and a silent start. An unknown figure (no steady beat, no
clear key, too short to measure) weighs UNKNOWN: it can't vouch for the seam, so a
take nobody can measure never outscores one measured clean. `weakest` names the
factor that took the most off.

A seam is `unjudged` (the chain never ranks it best) when the path heard or the
take is under MIN_HEARD_S (a take continuing a 0.1 s path used to score 71%), or
when neither a tempo nor a key can be compared across it.
"""

from __future__ import annotations

import math

import librosa
import numpy as np

from sparrow_analysis.domain import Analysis, PathGrid, SeamReport
from sparrow_analysis.engine.key import relation
from sparrow_analysis.engine.loudness import lufs

SPAN_S = 3.0
EDGE_S = 0.1
FADE_DB = 12.0
SILENT_DB = 30.0
KEY_FACTORS = {"same": 1.0, "relative": 0.8, "other": 0.5}
UNKNOWN = 0.8
CARRIED = 8
# Within this a take is on the beat (a beat's own jitter, a frame of analysis).
ON_BEAT_MS = 30.0
MIN_HEARD_S = 1.0
# A factor over this takes too little off to be named the weakest.
NOTICED = 0.95


def _folded(ratio: float) -> float:
    while ratio > 1.5:
        ratio /= 2
    while ratio < 0.75:
        ratio *= 2
    return ratio


def _band_levels_db(y: np.ndarray, sr: int) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, n_mels=40, center=True)
    return 10 * np.log10(mel.mean(axis=1) + 1e-10)


def _difference_db(a: np.ndarray, b: np.ndarray, sr: int) -> float:
    """The mean difference of two stretches' mel band levels, in dB."""
    return float(np.abs(_band_levels_db(a, sr) - _band_levels_db(b, sr)).mean())


def _frame_db(y: np.ndarray, sr: int) -> np.ndarray:
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=512)[0]
    return 20 * np.log10(rms + 1e-10)


def _unknown(what: str, before: bool | None, after: bool | None) -> str:
    """Words for a figure that can't be measured: whose it is that's missing."""
    sides = [side for side, known in (("the path", before), ("the take", after)) if not known]
    return f"no {what} heard in {' or '.join(sides) or 'either'}"


def seam(
    parent: np.ndarray,
    take: np.ndarray,
    sr: int,
    before: Analysis,
    after: Analysis,
    grid: PathGrid | None = None,
) -> SeamReport:
    """The report of `take` continuing `parent` (mono, at `sr`), with the analyses of
    each; `grid` (beats on `parent`'s clock), when given, stands for the path's."""
    path = grid or PathGrid(before.tempo_bpm, before.beats_s, before.key)
    notes: list[str] = []
    # (factor, what it says in words)
    factors: list[tuple[float, str]] = []

    tempo_pct = None
    if path.tempo_bpm and after.tempo_bpm:
        tempo_pct = round((_folded(after.tempo_bpm / path.tempo_bpm) - 1) * 100, 2)
        notes.append(f"tempo {tempo_pct:+.1f}%")
        factors.append((math.exp(-((tempo_pct / 4) ** 2)), notes[-1]))
    else:
        factors.append((UNKNOWN, _unknown("steady beat", bool(path.tempo_bpm), bool(after.tempo_bpm))))

    offset_ms = None
    if path.tempo_bpm and len(path.beats_s) >= 2 and after.beats_s:
        period = 60.0 / path.tempo_bpm
        # The path's last beat, on the take's clock, from its last CARRIED beats (one
        # beat's own jitter is the music's, not the grid's).
        last = np.asarray(path.beats_s[-CARRIED:])
        carried = float(np.median(last + (len(last) - 1 - np.arange(len(last))) * period)) - len(parent) / sr
        first = [t for t in after.beats_s if t < 4 * period] or after.beats_s[:1]
        offsets = [((t - carried + period / 2) % period) - period / 2 for t in first]
        offset_ms = round(float(np.median(offsets)) * 1000, 1)
        notes.append(
            "on the beat"
            if abs(offset_ms) < ON_BEAT_MS
            else f"{abs(offset_ms):.0f} ms {'late' if offset_ms > 0 else 'early'}"
        )
        off = max(0.0, abs(offset_ms) - ON_BEAT_MS) / max(period * 500 - ON_BEAT_MS, 1.0)
        factors.append((max(0.0, 1 - off), notes[-1]))
    elif path.tempo_bpm or after.tempo_bpm:
        factors.append((UNKNOWN, _unknown("beat", len(path.beats_s) >= 2, bool(after.beats_s))))

    match = relation(path.key, after.key)
    if match is None:
        factors.append((UNKNOWN, _unknown("clear key", bool(path.key), bool(after.key))))
    else:
        words = {
            "same": "same key",
            "relative": f"relative key ({after.key})",
            "other": f"changes key to {after.key}",
        }
        notes.append(words[match])
        factors.append((KEY_FACTORS[match], notes[-1]))

    span = int(SPAN_S * sr)
    a, b = lufs(parent[-span:], sr), lufs(take[:span], sr)
    step = round(b - a, 2) if a is not None and b is not None else None
    if step is not None:
        words = f"{abs(step):.1f} dB {'louder' if step > 0 else 'quieter'}"
        if abs(step) >= 1.0:
            notes.append(words)
        factors.append((math.exp(-((step / 6) ** 2)), words))
    else:
        factors.append((UNKNOWN, _unknown("loudness", a is not None, b is not None)))

    edge = int(EDGE_S * sr)
    jump = round(_difference_db(parent[-edge:], take[:edge], sr), 2)
    # Music changes from one 100 ms to the next anyway (a kick, a new chord on the
    # bar line): only what the seam changes past the path's own changes counts.
    tail = parent[-span:]
    levels = [_band_levels_db(tail[i : i + edge], sr) for i in range(0, len(tail) - edge + 1, edge)]
    usual = [float(np.abs(b - a).mean()) for a, b in zip(levels, levels[1:])]
    excess = max(0.0, jump - float(np.percentile(usual, 90))) if usual else jump
    words = f"a jump in sound at the seam ({jump:.0f} dB)"
    if excess >= 6:
        notes.append(words)
    factors.append((math.exp(-((excess / 12) ** 2)), words))

    levels = _frame_db(take, sr)
    median = float(np.median(levels))
    frames_per_s = sr / 512
    fades_out = bool(
        len(levels) > 2 * frames_per_s and levels[-int(frames_per_s) :].mean() < median - FADE_DB
    )
    head = levels[: max(1, int(0.3 * frames_per_s))].mean()
    silent_start = bool(head < max(median - SILENT_DB, -60.0))
    for flag, words in ((fades_out, "fades out"), (silent_start, "starts silent")):
        if flag:
            factors.append((0.5, words))
            notes.append(words)

    score = round(float(np.prod([f for f, _ in factors])), 3)
    worst, worst_words = min(factors, key=lambda f: f[0])
    return SeamReport(
        tempo_pct,
        offset_ms,
        match,
        step,
        jump,
        fades_out,
        silent_start,
        score,
        notes,
        weakest=worst_words if worst < NOTICED else None,
        unjudged=_unjudged(len(parent) / sr, len(take) / sr, tempo_pct, match),
    )


def _unjudged(path_s: float, take_s: float, tempo_pct: float | None, match: str | None) -> str | None:
    if path_s < MIN_HEARD_S:
        return f"the path heard is only {path_s:.1f} s long: too short to judge a seam"
    if take_s < MIN_HEARD_S:
        return f"the take is only {take_s:.1f} s long: too short to judge a seam"
    if tempo_pct is None and match is None:
        return "neither a steady beat nor a clear key can be compared across the seam"
    return None
