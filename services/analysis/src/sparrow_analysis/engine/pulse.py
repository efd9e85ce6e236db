"""Tempo and beats, from note onsets and harmonic change, not only from what strikes.

The pulse is read from one envelope: the onsets of new notes (heard.onsets: a
piano's hammer, a bow, a choir's consonant, a drum) plus half the harmony's
movement (heard.harmony: an organ chorale's chords change on the beat even where
nothing is struck) plus the new pitches (heard.change: a choir's or a flute's
notes swell in with no attack). Its autocorrelation says how strongly it repeats at each lag.

The tempo is the beat period whose metrical picture fits best: the envelope
repeats at the beat, not more at the wrong subdivision (a third of the beat in
simple time, a half in compound time) than at the right one, and the harmony and
the bass repeat at the bar. A prior on the subdivision's rate (eighths near 240 a minute,
so a quarter near 120 bpm, a dotted quarter near 80) picks between levels that
fit alike. Beats are then tracked at that tempo (librosa's dynamic programme, as engine/beats.py runs it),
and the tempo refined by a line through them.

No tempo is said when nothing starts (the envelope never rises past ONSET_FLOOR),
or when the `confidence` is under STEADY: the envelope neither repeats at the
chosen beat nor rises on the tracked beats (noise, drones, rubato chords). Before
saying none, two readings of legato music are tried, each held to a higher
steadiness than STEADY: the chords' rate, too slow for a beat, halved
(`_chords_rate`), the beat of the new pitches alone (`_legato`), the beat
of the bass with the new pitches (`_bass_line`: bowed strings and choirs whose
bass moves on the beat), held too to a chord's changing on its beats, and the
beat of the bass's onsets with every band's (`_bowed_bass`: a cello bowing
every beat under held strings), held to the same.

Three beats or two in the same span (a bar of 3/4 or two dotted quarters) are
told apart by which beats stand out more (`_three_for_two`, `_split_in_three`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparrow_analysis.engine.bars import _harmony_change, _per_beat, _unit
from sparrow_analysis.engine.beats import beat_frames
from sparrow_analysis.engine.heard import HOP, Heard

# The confidence (the envelope's autocorrelation at the beat, plus how much more
# it rises on the tracked beats than anywhere) below which there is no steady
# beat: on sparrow_common.testing.pieces noise, drones and rubato chords read
# 0.05 to 0.33, steady pieces 0.4 to 1.
STEADY = 0.36
# librosa's onset strength (dB of rise averaged over mel bands, against the
# clip's loudest): a held tone's never passes 0.2, a struck note's reaches 2 to 30.
ONSET_FLOOR = 1.0
SLOWEST, FASTEST = 40.0, 240.0
# Rubato chords a few seconds apart hold "steady" at a crawl: a halved tempo
# is only tried down to this. A beat in simple time slower than this is taken
# for the half note, and the beat is its half (a chorale at 100 whose chords
# change every second beat, the tune's slow notes between them, fits 50 best).
SLOWEST_HALF = 55.0
# (beats to the bar, subdivisions of the beat): 2/4, 3/4, 4/4, 6/8, 12/8.
STRUCTURES = ((2, 2), (3, 2), (4, 2), (2, 3), (4, 3))
# Eighths a minute that a listener taps the beat around (a quarter at 120 bpm,
# a dotted quarter at 80), and how far (in octaves) the tempo may stray before
# the prior weighs (at 0.8, ballads and chorales near 64 bpm read double or
# were pulled to a tempo that did not hold; at 1.0, slow 6/8 pieces, a dotted
# quarter near 50, read in eighths as 3/4 at three times the tempo, and 3/4
# ballads and duos near 70 at twice it). On sparrow_common.testing.pieces the
# ten tuned seeds read the same tempi from 1.0 to 1.4 and worse from 1.6; seeds
# 60 to 63, at 1.0, 156 of 168, at 1.2 159, at 1.4 162, at 1.6 and 2.0 161.
EIGHTHS_PER_MIN = 240.0
PRIOR_OCTAVES = 1.4
# The legato readings (`_legato`, `_bass_line`) fit envelopes that repeat about
# as much at many tempi, where the prior picks: they keep the narrower prior
# (at 1.4 a ballad's bass alone fitted 155 by a hair over its 82, and its beat,
# which the bass and the new pitches kept, was lost).
LEGATO_PRIOR_OCTAVES = 1.0
# A slow attack's rise: at most 7 frames (160 ms; a flute's takes 100 to 150),
# down to FOOT of its peak.
ATTACK = 7
FOOT = 0.25
# The harmony's movement (scaled to its 95th percentile) that marks a new note.
HARMONY_MOVE = 1.0
# The onset envelope's peak comes a frame after the note (measured on the
# synthesised songs of sparrow_common.testing.songs, whose beats are exact: 23 ms).
LATENCY = 1
# Beats held to one line when they stray from it by under this much of a beat
# (median); else each is placed by its REACH neighbours either side.
STRAY = 0.06
REACH = 4
# Compound time is said when the envelope repeats at a third of the beat past
# COMPOUND_FLOOR and by COMPOUND_MARGIN more than at a half; or, more faintly (past
# FAINT_FLOOR), when it repeats at the third and shuns the half by FAINT_MARGIN (a
# 6/8 whose kit and oom-pah-pah blur the eighths: on sparrow_common.testing.pieces
# thirds 0.18 against halves -0.1 to -0.28; in simple time the two never part by
# more than 0.23 with the thirds past 0.1).
COMPOUND_MARGIN = 0.05
COMPOUND_FLOOR = 0.2
FAINT_FLOOR, FAINT_MARGIN = 0.1, 0.25
# Or when, beat by beat, the fine onsets (heard.fine_onsets, scaled to their 95th
# percentile) rise a third and two thirds into the beat more than halfway by
# THIRDS: an oboe's eighths repeating one chord under a flute, too soft to
# repeat in the whole clip's autocorrelation, fall on the same thirds of every
# beat. On sparrow_common.testing.pieces (ten seeds) such 6/8 chorales read
# 0.19 to 0.31; simple time, its beats right, at most 0.09. Asked of the beat
# once a half note is split (SLOWEST_HALF): a 6/8 bar heard as one slow beat
# is split into its two dotted quarters, whose eighths then fall on the thirds.
THIRDS = 0.14
# How the tempo's fit weighs the wrong subdivision, the bar and the prior
# against the beat's own repeating (1).
OTHER_SUB_WEIGHT, BAR_WEIGHT, PRIOR_WEIGHT = 1.0, 0.5, 0.5
# How much the new pitches (heard.change: a choir's or a bowed line's notes,
# which swell with no attack for the onsets to hear) weigh in the envelope
# against the onsets (1): on sparrow_common.testing.pieces 0.25 to 0.5 hear slow
# legato chorales and 6/8 strums alike; more, and a bar's chord change
# outweighs the beat.
CHANGE_WEIGHT = 0.35
# When neither the fit's tempo nor its half holds steady (a legato ballad whose
# envelope barely repeats fits every tempo alike, and the prior then picks), the
# fit's next ALTERNATIVES peaks are tracked, and the steadiest said if its
# confidence passes STEADY by ALTERNATIVE_MARGIN (more tries, more chances for
# rubato chords to look steady: on sparrow_common.testing.pieces they reach 0.32).
ALTERNATIVES = 5
ALTERNATIVE_MARGIN = 0.1
# A pulse heard with a confidence under CLEAR must also be SPECIFIC: steadier by
# this much than the median of the fit's other peaks (up to ALTERNATIVES of them,
# none a simple ratio of 1, 2 or 3 to the tempo). Rubato chords with slow
# attacks look a little steady at every tempo alike (on sparrow_common.testing.
# pieces 0.03 steadier at the tempo said); a slow legato beat is steadier at its
# own tempo by 0.19 or more.
CLEAR = 0.6
SPECIFIC = 0.1
# A legato chorale whose chords change every second beat, its tune's notes
# swelling in with no attack, can be steady only at the chords' rate (25 to 55 a
# minute: too slow for a beat). When no beat is heard, a pulse that slow, as
# steady as SLOW_STEADY, is taken for the chords' and the beat is its half (its
# third when the envelope repeats more there). On sparrow_common.testing.pieces
# such chorales read 0.74 and 1; rubato chords and drones at most 0.62.
SLOWEST_CHORDS = 25.0
SLOW_STEADY = 0.7
# A choir's notes swell in with no attack: the onsets' noise can hide the beat
# that the new pitches alone (heard.change, with half the harmony's movement)
# keep. When no beat is heard, the fit's best tempo on those alone is said if it
# is as steady as LEGATO_STEADY there (on sparrow_common.testing.pieces a choir
# chorale reads 1; rubato chords, drones and noise of 20 to 30 s at most 0.48, a
# drone of 12 to 16 s 0.62).
LEGATO_STEADY = 0.8
# Bowed strings and a choir over a bass that moves on the beat: the low end's
# rise (heard.bass: a cello's or a bass voice's new note) with the new pitches
# keeps the beat where the onsets hear none. When no beat is heard, the fit's
# best tempo on those two is said if it is as steady as BASS_STEADY there, the
# bass alone fits the same tempo (within 4%) and is as steady as BASS_ALONE (on
# sparrow_common.testing.pieces legato strings, choirs and ballads read 0.89 to
# 1 and 0.86 to 1; rubato chords and drones whose two tempi agree at most 0.77).
# It must also be specific (SPECIFIC: rubato chords over a held bass read as
# steady at every tempo alike), and a chord must change on one of its beats by
# CHORD_CHANGE (1 - the cosine of the chroma of the beat before and the beat
# after): a drone's partials beat as steadily as a bass line, its chroma never
# moves (at most 0.16 on sparrow_common.testing.pieces, the pieces 0.44 to 0.76).
BASS_STEADY = 0.85
BASS_ALONE = 0.8
CHORD_CHANGE = 0.3
# Bowed strings over a cello or a bass that plays every beat, the bow's changes
# too soft for the onsets and the new pitches together to repeat: when no beat is
# heard, the fit's best tempo on the low end's onsets with the onsets' square
# root (`_bowed_bass`) is said if it is as steady as BOWED_STEADY there, specific
# (SPECIFIC) and a chord changes on one of its beats (CHORD_CHANGE). On
# sparrow_common.testing.pieces (32 seeds) such strings read 0.64 to 1; of 192
# pieces with no pulse only one (rubato chords the main reading already hears as
# steady) passes the two tests, at any steadiness.
BOWED_STEADY = 0.6
# Three beats or two to the same span: a bar of 3/4 whose eighths run through it
# heard as two dotted quarters (6/8), or two bars of a waltz whose chords last
# two bars as a bar of 12/8; the envelope's autocorrelation alone barely tells
# them apart. When the tempo 3/2 of the fit's fits within GROUPING_FIT of it and
# holds steady, it is said should its beats stand out more (the envelope
# repeating at them and rising on them, the two added, unclipped) by
# GROUPING_MARGIN. The same choice splits a beat too slow to be one
# (SLOWEST_HALF) in three rather than two: a waltz's bar heard as one beat. On
# sparrow_common.testing.pieces (22 seeds) the right tempo stood out over the
# one 3/2 of it by 0.04 to 0.36 where the two fit alike; the other way round, a
# 6/8 at 64 and its 3/4 at 95 read alike (so the slower is never tried: the
# fit's subdivision test hears a 6/8's thirds), and a 3/4 ballad at 67 stood
# out less than its 2/3 at 45 by 0.1.
GROUPING_FIT = 0.2
GROUPING_MARGIN = 0.05


@dataclass(frozen=True)
class Pulse:
    tempo_bpm: float | None
    beats_s: list[float]
    # 0 to 1: how steady and clear the pulse is (STEADY says how it is read).
    confidence: float
    # Beat frames, for bars.py.
    beat_frames: np.ndarray
    # The beat divides in 2 (simple time) or 3 (compound).
    subdivision: int = 2
    # The beat was heard as half notes and split (SLOWEST_HALF): chords that
    # change every second beat, a bar of four, not a march's two.
    split: bool = False
    # Beats to the bar when the beat is a bar heard as one beat and split in three
    # (`_split_in_three`: a waltz's bar); 0 when the bars are left to bars.py.
    bar: int = 0


NONE = Pulse(None, [], 0.0, np.zeros(0, dtype=int))


def _acf(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    a = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    return a / a[0] if a[0] > 1e-12 else np.zeros(n)


def _at(a: np.ndarray, lag: float) -> float:
    """The autocorrelation's best value within 1.5% of `lag` frames (tempo in
    frames is never a whole number), linearly interpolated."""
    best = -1.0
    for r in (0.985, 0.995, 1.0, 1.005, 1.015):
        x = lag * r
        i = int(x)
        if i + 1 >= len(a) or i < 1:
            continue
        best = max(best, (1 - (x - i)) * a[i] + (x - i) * a[i + 1])
    return best if best > -1.0 else 0.0


def envelope(heard: Heard) -> np.ndarray:
    """Onsets, half the harmony's movement and CHANGE_WEIGHT of the new pitches
    (heard.change), the onsets' square root taken so a bar's one loud chord does
    not drown the soft notes that keep the beat."""
    onsets = np.sqrt(heard.onsets / (np.percentile(heard.onsets, 95) + 1e-9))
    return onsets + 0.5 * heard.harmony + CHANGE_WEIGHT * heard.change


def _fit(
    heard: Heard, env: np.ndarray, octaves: float = PRIOR_OCTAVES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bpm, score, the envelope's autocorrelation): how well each tempo's best
    metrical picture fits the clip whose envelope is `env`, the prior `octaves` wide."""
    beat_acf = _acf(env)
    bar_acf = _acf(heard.harmony + heard.bass)
    fps = heard.fps
    bpms = np.exp(np.linspace(np.log(SLOWEST), np.log(FASTEST), 400))
    scores = np.full(len(bpms), -np.inf)
    for i, bpm in enumerate(bpms):
        period = 60.0 / bpm * fps
        beat = _at(beat_acf, period)
        for meter, sub in STRUCTURES:
            other = 3 if sub == 2 else 2
            bar = _at(bar_acf, meter * period) - 0.5 * _at(bar_acf, meter * period / 2)
            prior = (np.log2(bpm * sub / EIGHTHS_PER_MIN) / octaves) ** 2
            # The other subdivision repeating more than this one rules it out; its
            # own repeating adds nothing (a beat of plain quarters has none).
            wrong = max(0.0, _at(beat_acf, period / other) - _at(beat_acf, period / sub))
            score = beat - OTHER_SUB_WEIGHT * wrong + BAR_WEIGHT * bar - PRIOR_WEIGHT * prior
            scores[i] = max(scores[i], score)
    return bpms, scores, beat_acf


def _subdivision(beat_acf: np.ndarray, bpm: float, fps: float) -> int:
    """The fit's subdivision may only reflect the prior (a slow beat with nothing
    between its notes fits either): compound time is said when thirds of the
    beat repeat clearly (a beat with nothing between its notes is simple time),
    and more than halves."""
    period = 60.0 / bpm * fps
    thirds, halves = _at(beat_acf, period / 3), _at(beat_acf, period / 2)
    clear = thirds > COMPOUND_FLOOR and thirds > halves + COMPOUND_MARGIN
    faint = thirds > FAINT_FLOOR and thirds > halves + FAINT_MARGIN
    return 3 if clear or faint else 2


def _thirds(heard: Heard, frames: np.ndarray) -> float:
    """How much more the fine onsets rise a third and two thirds into each beat
    than halfway, on average over the beats at `frames` (a shift of the beats by
    a third, a tracker's locking onto the second eighth, reads the same)."""
    env = heard.fine_onsets / (np.percentile(heard.fine_onsets, 95) + 1e-9)

    def near(x: float) -> float:
        i = int(round(x))
        return float(env[max(i - 1, 0) : i + 2].max())

    frames = np.asarray(frames, dtype=float)
    rises = [
        (near(a + (b - a) / 3) + near(a + 2 * (b - a) / 3)) / 2 - near(a + (b - a) / 2)
        for a, b in zip(frames[:-1], frames[1:])
    ]
    return float(np.mean(rises))


def _candidates(bpms: np.ndarray, scores: np.ndarray) -> list[float]:
    """The fit's peaks, best first, none within 4% of a better one."""
    last = len(bpms) - 1
    peaks = [
        i for i in range(len(bpms)) if scores[i] >= max(scores[max(i - 1, 0)], scores[min(i + 1, last)])
    ]
    out: list[float] = []
    for i in sorted(peaks, key=lambda i: -scores[i]):
        if all(abs(bpms[i] / b - 1) > 0.04 for b in out):
            out.append(float(bpms[i]))
    return out


def _refined(tempo: float, beat_times: np.ndarray) -> float:
    """A line through the beats' times, whose slope is the beat's period, gives the
    tempo to a fraction of a frame's lag, when the beats are that regular."""
    index = np.arange(len(beat_times))
    slope, intercept = np.polyfit(index, beat_times, 1)
    residual = beat_times - (slope * index + intercept)
    if slope <= 0 or np.abs(residual).max() > 0.25 * slope:
        return tempo
    return 60.0 / slope


def _salience(heard: Heard) -> np.ndarray:
    """Where a beat is likeliest: notes start, and above all the low end moves (a
    kick, a bass note: comping may sit on the off-beats, the bass rarely does)."""
    onsets = heard.onsets / (np.percentile(heard.onsets, 95) + 1e-9)
    return onsets + 2 * heard.bass + heard.harmony


def _line(frames: np.ndarray) -> tuple[float, float]:
    """(period, where beat 0 falls) of a robust line through beat positions
    (Theil-Sen: the median of every pair's slope, then the median offset)."""
    j, k = np.triu_indices(len(frames), 1)
    period = float(np.median((frames[k] - frames[j]) / (k - j)))
    return period, float(np.median(frames - np.arange(len(frames)) * period))


def _steady(frames: np.ndarray, whole: bool = True) -> np.ndarray:
    """The tracker pulls a beat now and then onto a loud off-beat eighth, and its
    last beats toward the clip's end; the music keeps time. When the beats hold
    one tempo (their median distance from one line under STRAY of a beat), they
    are put on that line; else each where its neighbours (REACH either side) say
    it falls, so a slow drift is followed and one stray beat is not."""
    frames = frames.astype(float)
    period, start = _line(frames)
    line = start + np.arange(len(frames)) * period
    if np.median(np.abs(frames - line)) < STRAY * period:
        out = line
    else:
        out = np.empty_like(frames)
        for i in range(len(frames)):
            lo, hi = max(0, i - REACH), min(len(frames), i + REACH + 1)
            p, s0 = _line(frames[lo:hi]) if hi - lo > 1 else (0.0, frames[i])
            out[i] = s0 + (i - lo) * p
    return np.round(out).astype(int) if whole else out


def _on_the_beat(heard: Heard, frames: np.ndarray, sub: int) -> np.ndarray:
    """A tracker may lock onto the off-beats (hats and comping on the "and"s, the
    second eighth of a 6/8 beat): the grid shifted by each subdivision whose
    beats carry the most onsets, bass and harmony change wins."""
    salience = _salience(heard)
    period = float(np.median(np.diff(frames)))
    best, chosen = -np.inf, frames
    for k in range(sub):
        shifted = np.round(frames + k * period / sub).astype(int)
        shifted = shifted[(shifted >= 0) & (shifted < len(salience) - 1)]
        if len(shifted) < 2:
            continue
        score = np.mean([salience[max(f - 1, 0) : f + 2].max() for f in shifted])
        if score > best * 1.05 or k == 0 and best == -np.inf:
            best, chosen = score, shifted
    return chosen


def _whole(heard: Heard, frames: np.ndarray) -> np.ndarray:
    """The tracker leaves out beats where the onsets are weak at the ends (a
    first bar's held chord): the grid is carried on at its period back to where
    the sound starts and on to where it ends."""
    period = float(np.median(np.diff(frames)))
    sounding = np.flatnonzero(heard.onsets > 0.1 * heard.onsets.max())
    start, end = sounding[0] - 1, sounding[-1]
    before = np.arange(frames[0] - period, start - 0.25 * period, -period)[::-1]
    after = np.arange(frames[-1] + period, end + 0.25 * period, period)
    out = np.r_[np.round(before), frames, np.round(after)].astype(int)
    return np.clip(out, 0, heard.frames - 1)


def _attack(env: np.ndarray, frames: np.ndarray, harmony: np.ndarray) -> np.ndarray:
    """A beat sits where its notes begin: the envelope peaks later on a slow
    attack (a flute, a bowed string), so each beat walks back down the rise
    before its peak, up to ATTACK frames, to its foot (where it falls under
    FOOT of the peak: a struck note's rise takes a frame, the walk must not slide
    down the last note's decay); or to where the harmony moves most, when that
    is earlier still (a legato line's new note changes the chroma before its
    slow attack swells)."""
    out = []
    for f in frames:
        k = f
        while k > 0 and f - k < ATTACK and FOOT * env[f] < env[k - 1] < env[k]:
            k -= 1
        lo = max(f - ATTACK, 0)
        moved = lo + int(np.argmax(harmony[lo : f + 1]))
        if harmony[moved] >= HARMONY_MOVE:
            k = min(k, moved)
        out.append(k)
    return np.array(out)


def _on_beat_ratio(env: np.ndarray, frames: np.ndarray) -> float:
    """How much more the envelope rises on the beats than anywhere (1: no more)."""
    near = lambda f: env[max(f - 1, 0) : f + 2].max()  # noqa: E731
    anywhere = np.mean([near(f) for f in range(2, len(env) - 2, 3)])
    return float(np.mean([near(f) for f in frames]) / (anywhere + 1e-9))


def _tracked(
    heard: Heard, env: np.ndarray, beat_acf: np.ndarray, bpm: float
) -> tuple[float, float, np.ndarray]:
    """(confidence, bpm, beat frames) of the beats tracked at `bpm`. Steady: the
    envelope repeats at the beat, and rises on the tracked beats more than
    anywhere else; rubato chords and noise do one a little, never both."""
    frames = beat_frames(env, heard.fps, bpm, tightness=400)
    if len(frames) < 4:
        return 0.0, bpm, frames
    repeats = max(_at(beat_acf, 60.0 / bpm * heard.fps), 0.0)
    return float(np.clip(repeats + _on_beat_ratio(env, frames) - 1.0, 0.0, 1.0)), bpm, frames


def _beat_strength(heard: Heard, env: np.ndarray, beat_acf: np.ndarray, bpm: float) -> tuple[float, tuple]:
    """(how much the envelope repeats at the beat plus how much more it rises on
    the beats tracked at `bpm` than anywhere, unclipped; that tracking, as
    `_tracked` gives it)."""
    tracked = _tracked(heard, env, beat_acf, bpm)
    if len(tracked[2]) < 4:
        return -np.inf, tracked
    return _at(beat_acf, 60.0 / bpm * heard.fps) + _on_beat_ratio(env, tracked[2]), tracked


def _three_for_two(
    heard: Heard,
    env: np.ndarray,
    beat_acf: np.ndarray,
    bpms: np.ndarray,
    scores: np.ndarray,
    chosen: tuple[float, float, np.ndarray],
) -> tuple[float, float, np.ndarray]:
    """The chosen (confidence, bpm, frames), or three beats in the span of its
    two (a bar of 3/4 heard as two dotted quarters) when those fit within
    GROUPING_FIT, hold steady and stand out more by GROUPING_MARGIN."""
    bpm, other = chosen[1], chosen[1] * 1.5
    fit = lambda b: float(scores[np.argmin(np.abs(np.log(bpms / b)))])  # noqa: E731
    if other > FASTEST or fit(other) < fit(bpm) - GROUPING_FIT:
        return chosen
    strength, _ = _beat_strength(heard, env, beat_acf, bpm)
    rival, tracked = _beat_strength(heard, env, beat_acf, other)
    return tracked if tracked[0] >= STEADY and rival > strength + GROUPING_MARGIN else chosen


def _split_in_three(heard: Heard, env: np.ndarray, beat_acf: np.ndarray, bpm: float) -> tuple | None:
    """A beat too slow to be one (under SLOWEST_HALF) is split in two, unless its
    thirds stand out more than its halves by GROUPING_MARGIN (a bar of 3/4 heard
    as one beat): then the thirds' (confidence, bpm, frames)."""
    if 3 * bpm > FASTEST:
        return None
    halves, _ = _beat_strength(heard, env, beat_acf, 2 * bpm)
    thirds, tracked = _beat_strength(heard, env, beat_acf, 3 * bpm)
    return tracked if thirds > halves + GROUPING_MARGIN else None


def _specific(
    heard: Heard,
    env: np.ndarray,
    beat_acf: np.ndarray,
    candidates: list[float],
    bpm: float,
    confidence: float,
) -> bool:
    """Whether the pulse at `bpm` is steadier than at the fit's other peaks
    (those not 1, 2 or 3 times it or its half or third) by SPECIFIC."""
    ratios = (1.0, 2.0, 0.5, 1.5, 2 / 3, 3.0, 1 / 3)
    others = [b for b in candidates if all(abs(b / (bpm * r) - 1) > 0.06 for r in ratios)][:ALTERNATIVES]
    if not others:
        return True
    elsewhere = float(np.median([_tracked(heard, env, beat_acf, b)[0] for b in others]))
    return confidence - elsewhere >= SPECIFIC


def _chords_rate(heard: Heard, env: np.ndarray, beat_acf: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(confidence, bpm, beat frames) of the beat read as a division of the
    steadiest slow pulse (SLOWEST_CHORDS to SLOWEST_HALF a minute), or no
    confidence when that pulse is not SLOW_STEADY."""
    fps = heard.fps
    lo, hi = int(60.0 / SLOWEST_HALF * fps), int(60.0 / SLOWEST_CHORDS * fps)
    if hi >= len(beat_acf):
        return 0.0, 0.0, NONE.beat_frames
    lag = lo + int(np.argmax(beat_acf[lo:hi]))
    confidence, bpm, frames = _tracked(heard, env, beat_acf, 60.0 * fps / lag)
    if confidence < SLOW_STEADY or len(frames) < 4:
        return 0.0, 0.0, NONE.beat_frames
    split = 3 if _at(beat_acf, lag / 3) > _at(beat_acf, lag / 2) else 2
    steps = np.arange(split) / split
    beats = (frames[:-1, None] + np.diff(frames)[:, None] * steps).ravel()
    return confidence, bpm * split, np.round(np.r_[beats, frames[-1]]).astype(int)


def _legato(heard: Heard) -> tuple[float, float, np.ndarray]:
    """(confidence, bpm, beat frames) of the beat of the new pitches alone (and
    half the harmony's movement), or no confidence when it is not LEGATO_STEADY."""
    env = heard.change + 0.5 * heard.harmony
    bpms, scores, beat_acf = _fit(heard, env, LEGATO_PRIOR_OCTAVES)
    confidence, bpm, frames = _tracked(heard, env, beat_acf, _candidates(bpms, scores)[0])
    return (confidence, bpm, frames) if confidence >= LEGATO_STEADY else (0.0, 0.0, NONE.beat_frames)


def _bass_line(heard: Heard) -> tuple[float, float, np.ndarray]:
    """(confidence, bpm, beat frames) of the beat of the bass and the new pitches,
    or no confidence when it is not BASS_STEADY or the bass alone does not agree."""
    env = heard.bass + heard.change
    bpms, scores, beat_acf = _fit(heard, env, LEGATO_PRIOR_OCTAVES)
    confidence, bpm, frames = _tracked(heard, env, beat_acf, _candidates(bpms, scores)[0])
    if confidence < BASS_STEADY:
        return 0.0, 0.0, NONE.beat_frames
    alone_bpms, alone_scores, alone_acf = _fit(heard, heard.bass, LEGATO_PRIOR_OCTAVES)
    alone_bpm = _candidates(alone_bpms, alone_scores)[0]
    alone = _tracked(heard, heard.bass, alone_acf, alone_bpm)[0]
    if abs(alone_bpm / bpm - 1) > 0.04 or alone < BASS_ALONE or len(frames) < 4:
        return 0.0, 0.0, NONE.beat_frames
    chroma = _unit(_per_beat(heard.chroma, np.minimum(frames, heard.frames - 1)))
    if _harmony_change(chroma, 1).max() < CHORD_CHANGE:
        return 0.0, 0.0, NONE.beat_frames
    if not _specific(heard, env, beat_acf, _candidates(bpms, scores), bpm, confidence):
        return 0.0, 0.0, NONE.beat_frames
    return confidence, bpm, frames


def _bowed_bass(heard: Heard) -> tuple[float, float, np.ndarray]:
    """(confidence, bpm, beat frames) of the beat of the bass's and every band's
    onsets (the onsets' square root, as in `envelope`), or no confidence when it
    is not BOWED_STEADY, not specific, or no chord changes on its beats."""
    onsets = np.sqrt(heard.onsets / (np.percentile(heard.onsets, 95) + 1e-9))
    env = heard.bass + onsets
    bpms, scores, beat_acf = _fit(heard, env, LEGATO_PRIOR_OCTAVES)
    candidates = _candidates(bpms, scores)
    confidence, bpm, frames = _tracked(heard, env, beat_acf, candidates[0])
    if confidence < BOWED_STEADY or len(frames) < 4:
        return 0.0, 0.0, NONE.beat_frames
    chroma = _unit(_per_beat(heard.chroma, np.minimum(frames, heard.frames - 1)))
    if _harmony_change(chroma, 1).max() < CHORD_CHANGE:
        return 0.0, 0.0, NONE.beat_frames
    if not _specific(heard, env, beat_acf, candidates, bpm, confidence):
        return 0.0, 0.0, NONE.beat_frames
    return confidence, bpm, frames


def pulse(heard: Heard) -> Pulse:
    """The pulse of a clip."""
    duration = heard.frames / heard.fps
    if duration < 2.0 or heard.onsets.max() < ONSET_FLOOR:
        return NONE
    env = envelope(heard)
    bpms, scores, beat_acf = _fit(heard, env)
    candidates = _candidates(bpms, scores)
    bpm = candidates[0]
    # The fit's tempo first; should it not hold steady, its half (a slow piece's
    # eighths can outweigh its beat) down to SLOWEST_HALF, and the steadier; then
    # the fit's next peaks (ALTERNATIVES).
    tries = [_tracked(heard, env, beat_acf, bpm)]
    if bpm / 2 >= SLOWEST_HALF:
        tries.append(_tracked(heard, env, beat_acf, bpm / 2))
    confidence, bpm, frames = tries[0] if tries[0][0] >= STEADY else max(tries, key=lambda t: t[0])
    if confidence < STEADY:
        more = [_tracked(heard, env, beat_acf, b) for b in candidates[1 : 1 + ALTERNATIVES]]
        steadiest = max(more, key=lambda t: t[0], default=(0.0, bpm, frames))
        if steadiest[0] >= STEADY + ALTERNATIVE_MARGIN:
            confidence, bpm, frames = steadiest
    if confidence >= STEADY:
        confidence, bpm, frames = _three_for_two(heard, env, beat_acf, bpms, scores, (confidence, bpm, frames))
    if STEADY <= confidence < CLEAR and not _specific(heard, env, beat_acf, candidates, bpm, confidence):
        confidence = 0.0
    if confidence < STEADY:
        confidence, bpm, frames = max(
            (confidence, bpm, frames),
            _chords_rate(heard, env, beat_acf),
            _legato(heard),
            _bass_line(heard),
            _bowed_bass(heard),
            key=lambda t: t[0],
        )
    if len(frames) < 4 or confidence < STEADY:
        return Pulse(None, [], round(max(confidence, 0.0), 3), NONE.beat_frames)
    sub = _subdivision(beat_acf, bpm, heard.fps)
    split, bar = False, 0
    if sub == 2 and bpm < SLOWEST_HALF:
        thirds = _split_in_three(heard, env, beat_acf, bpm)
        if thirds is not None:
            # A bar of three heard as one slow beat (a waltz whose chords last a bar).
            _, bpm, frames = thirds
            bar = 3
        else:
            # A beat in simple time this slow is the half note: a chorale whose chords
            # change every second beat, its tune moving on the beat between.
            frames = np.asarray(frames)
            middles = np.round(frames[:-1] + np.diff(frames) / 2).astype(int)
            frames, bpm, split = np.sort(np.r_[frames, middles]), 2 * bpm, True
    if sub == 2 and _thirds(heard, frames) >= THIRDS:
        # Its halves may be a 6/8 bar's two dotted quarters: in two, not split.
        sub, split, bar = 3, False, 0
    frames = _whole(heard, _on_the_beat(heard, _steady(np.asarray(frames)), sub))
    # Each beat where its notes begin, then the grid through them again, now to a
    # fraction of a frame (a frame is 23 ms; the beats' own jitter is the music's).
    attacks = _steady(_attack(heard.onsets, frames, heard.harmony) - LATENCY, whole=False)
    times = (attacks * HOP / heard.sr).clip(0)
    tempo = _refined(bpm, times)
    return Pulse(
        round(tempo, 2), [round(float(t), 3) for t in times], round(confidence, 3), np.asarray(frames), sub, split, bar
    )
