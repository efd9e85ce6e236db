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

In words (`report`, what the analysis worker answers): where it comes back
against the asked point, the harmony when its factor takes NOTICED or more off,
a level step of a dB or more, a spectral jump of 6 dB or more, on the beat or
off it by so many ms; `weakest` names the factor that took the most off. No
point (the take or the part ends too soon after the asked point, or it is asked
within a beat of the take's start) is `unjudged`, scored 0, at the asked point.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import librosa
import numpy as np

from sparrow_analysis.domain import Analysis, PathGrid, RejoinAsked, RejoinReport, SeamReport
from sparrow_analysis.engine.heard import HOP, hear
from sparrow_analysis.engine.listener import RATE, mono
from sparrow_analysis.engine.seam import NOTICED
from sparrow_common.engine import Cancelled

if TYPE_CHECKING:
    from sparrow_analysis.engine.listening import Listener, StepCallback

# Compared either side of a candidate when no tempo is known, and the candidates'
# spacing without a grid.
MATCH_S = 0.5
HOP_S = 0.1
CONTEXT_S = 2.0
# A crossfade lasts about a beat, within these.
CROSSFADE_S = (0.02, 0.5)
# The crossfade answered when no point could be judged.
UNJUDGED_CROSSFADE_S = 0.1
ON_BEAT_MS = 30.0
N_MELS = 40
# A level step and a spectral jump under these are not worth a note.
LEVEL_NOTED_DB = 1.0
SPECTRUM_NOTED_DB = 6.0


@dataclass(frozen=True)
class Rejoin:
    at_s: float  # in the part's time: where the part comes back
    crossfade_s: float  # the crossfade's length, centred on at_s
    match: float  # 0 to 1: how alike the take and the part sound there
    harmony: float  # cosine of their pitch classes
    level_db: float  # the part's level against the take's (positive: it comes back louder)
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
    side = _side_s(bpm)
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
        level = float(heard_part.level_db[f0:n].mean() - heard_take.level_db[f0:n].mean())
        spectrum = float(np.abs(bands_part[:, f0:n].mean(axis=1) - bands_take[:, f0:n].mean(axis=1)).mean())
        offset = _offset_ms(heard_part.onsets, heard_take.onsets, (t - lo) * fps, side * fps, half * fps, fps)
        match = float(np.prod([f for f, _ in _factors(harmony, level, spectrum, offset, half * 1000)]))
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


def _side_s(bpm: float | None) -> float:
    """How long either side of a point the take and the part are compared: a beat,
    or MATCH_S without a tempo."""
    return 60.0 / bpm if bpm else MATCH_S


def _factors(
    harmony: float, level_db: float, spectrum_db: float, offset_ms: float, half_ms: float
) -> list[tuple[float, str]]:
    """The match's factors (each 1 when the take and the part are alike), each
    with what it says in words."""
    if abs(offset_ms) < ON_BEAT_MS:
        beat = "on the beat"
    else:
        beat = f"off the beat by {abs(offset_ms):.0f} ms (the take {'late' if offset_ms > 0 else 'early'})"
    return [
        (max(harmony, 0.0), "the harmony differs where it comes back"),
        (
            float(np.exp(-((level_db / 6) ** 2))),
            f"the part comes back {abs(level_db):.1f} dB {'louder' if level_db > 0 else 'quieter'}",
        ),
        (
            float(np.exp(-((spectrum_db / 12) ** 2))),
            f"a jump in sound where it comes back ({spectrum_db:.0f} dB)",
        ),
        (_on_beat(offset_ms, half_ms), beat),
    ]


def report(chosen: Rejoin | None, asked: RejoinAsked, take_s: float, part_s: float) -> RejoinReport:
    """The rejoin `chosen` for `asked` (None: no point could be), in words, for
    a take `take_s` long and the part audio `part_s` long, both from the take's
    first sample."""
    if chosen is None:
        return RejoinReport(
            at_s=asked.asked_s,
            crossfade_s=UNJUDGED_CROSSFADE_S,
            score=0.0,
            harmony=0.0,
            level_step_db=0.0,
            spectral_jump_db=0.0,
            beat_offset_ms=0.0,
            on="time",
            unjudged=_unjudged(asked.asked_s, take_s, part_s, _side_s(asked.tempo_bpm)),
        )
    half_ms = _side_s(asked.tempo_bpm) / 2 * 1000
    factors = _factors(chosen.harmony, chosen.level_db, chosen.spectrum_db, chosen.offset_ms, half_ms)
    harmony, level, spectrum, beat = factors
    notes = [_where(chosen.at_s, asked.asked_s, chosen.on)]
    if harmony[0] < NOTICED:
        notes.append(harmony[1])
    if abs(chosen.level_db) >= LEVEL_NOTED_DB:
        notes.append(level[1])
    if chosen.spectrum_db >= SPECTRUM_NOTED_DB:
        notes.append(spectrum[1])
    notes.append(beat[1])
    worst, worst_words = min(factors, key=lambda f: f[0])
    return RejoinReport(
        at_s=chosen.at_s,
        crossfade_s=chosen.crossfade_s,
        score=round(chosen.match, 3),
        harmony=round(chosen.harmony, 3),
        level_step_db=round(chosen.level_db, 2),
        spectral_jump_db=round(chosen.spectrum_db, 2),
        beat_offset_ms=round(chosen.offset_ms, 1),
        on=chosen.on,
        notes=notes,
        weakest=worst_words if worst < NOTICED else None,
    )


def _where(at_s: float, asked_s: float, on: str) -> str:
    """Where the part comes back against the asked point, in words."""
    grid = {"downbeat": " on a downbeat", "beat": " on a beat"}.get(on, "")
    gap = round(at_s - asked_s, 1)
    if gap == 0:
        return f"comes back{grid} at the asked point"
    return f"comes back{grid} {abs(gap):.1f} s {'after' if gap > 0 else 'before'} the asked point"


def _unjudged(asked_s: float, take_s: float, part_s: float, side_s: float) -> str:
    """Why no point near `asked_s` could be judged: the take and the part must
    both sound a beat (`side_s`) either side of it."""
    if asked_s < side_s and min(take_s, part_s) - asked_s >= side_s:
        return (
            f"the asked point is {asked_s:.1f} s after the take's start: "
            "too soon to hear where the part could come back"
        )
    whose, end = ("the take", take_s) if take_s <= part_s else ("the part sent", part_s)
    gap = end - asked_s
    when = f"{gap:.1f} s after" if gap >= 0 else f"{-gap:.1f} s before"
    return f"{whose} ends {when} the asked point: too soon to hear where it could come back"


def hear_and_rejoin(
    listener: Listener,
    clip: np.ndarray,
    context: np.ndarray | None,
    grid: PathGrid | None,
    part: np.ndarray | None,
    asked: RejoinAsked | None,
    on_step: StepCallback,
    cancel: threading.Event,
) -> tuple[Analysis, SeamReport | None, RejoinReport | None]:
    """What the analysis worker hears in a take: the `listener`'s analysis and
    seam report (see Listener.hear) and, when the `part` it replaces a stretch
    of is given (from the take's first sample on, (channels, samples) at RATE,
    as the clip), where that part comes back near `asked`. The rejoin counts as
    one more part heard in `on_step`'s progress."""
    if part is None or asked is None:
        heard, seam_report = listener.hear(clip, context, grid, on_step, cancel)
        return heard, seam_report, None
    total = 1

    def step(done: int, of: int) -> None:
        nonlocal total
        total = of + 1
        on_step(done, total)

    heard, seam_report = listener.hear(clip, context, grid, step, cancel)
    if cancel.is_set():
        raise Cancelled()
    take, whole = mono(clip, RATE), mono(part, RATE)
    chosen = rejoin(take, whole, RATE, 0.0, asked.asked_s, asked.downbeats_s, asked.beats_s, asked.tempo_bpm)
    on_step(total, total)
    return heard, seam_report, report(chosen, asked, len(take) / RATE, len(whole) / RATE)
