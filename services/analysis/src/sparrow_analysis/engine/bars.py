"""Bars: the meter (2/4, 3/4, 4/4, 6/8, 12/8) and where bar 1 falls, from the beats.

Harmony changes on the bar line, a new bass note lands on it and the downbeat is
played harder. For each way of grouping the beats (two, three or four to the
bar, the first downbeat on any of them, so a pickup before bar 1 is allowed)
every beat is asked how much the harmony before it differs from the harmony
after it (chroma, two beats each side), how hard the low end hits there (a
kick, a new bass note; not the snare, whose backbeat is loud on 2 and 4), how
loud it is (heard.level_db: the accents of a downbeat), and how many new
pitches sound there (heard.change: a choir's or an organ's voices, which swell
in with no attack, enter together and harder on 1). Whether the
bass's pitch class moves was tried and dropped: a walking or root-fifth bass
moves on every beat, and it made bar 1 worse on the pieces measured. The
grouping whose downbeats stand out most from the other beats wins; four to the
bar is the usual reading when two or four fit alike in simple time, and bar 1 on
the first beat heard when a pickup fits no better. Two to the bar or four is
then decided apart (`_two_or_four`): whether every other strong beat stands out.

Whether the beat divides in two or three (heard by the tempo's fit, pulse.py)
tells 6/8 from 2/4 and 12/8 from 4/4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparrow_analysis.engine.heard import Heard

SIGNATURES = {(2, 2): "2/4", (3, 2): "3/4", (4, 2): "4/4", (2, 3): "6/8", (4, 3): "12/8"}
# What each reading needs to beat the others by: four to the bar is the usual
# reading, two the rarest.
METER_PRIOR = {(4, 2): 0.15, (3, 2): 0.0, (2, 2): -0.2, (4, 3): 0.0, (2, 3): 0.0}
# Most music starts on bar 1: the reading whose bar 1 is the first beat heard
# gets this much (a pickup needs that much more evidence). 0.5 raised the
# downbeat F-measure on eight seeds of sparrow_common.testing.pieces by 0.016 and
# lowered it on four others by 0.002: no better in general.
START_BONUS = 0.2
HARMONY_WEIGHT, ACCENT_WEIGHT = 1.0, 1.0
CHANGE_SPAN = 2
# How much the level at each beat (heard.level_db: a downbeat is played harder)
# weighs beside the harmony's change and the low end's hits.
LEVEL_WEIGHT = 1.0
# And the new pitches at each beat (heard.change), as much: on
# sparrow_common.testing.pieces legato 3/4 chorales (organ, choir) read in four
# without them; weighed alike with the others, meter 91.7 to 93.3% and downbeat
# F 0.900 to 0.915 on ten seeds, 87.5 to 88.7% and 0.874 to 0.880 on four
# others (more weight, worse on both: a waltz's or a piano's chords on 2 and 3
# bring more new pitches than its bass on 1).
NEW_WEIGHT = 1.0
# Two beats to the bar or four: four when the bar's first strong beat stands out
# over its third by HALVES of how much both stand out over the beats between
# (on sparrow_common.testing.pieces 12/8 reads 1.2 or more, 6/8 at most 0.6
# but one of 19; 2/4 marches 0 to 1.1). Under SLOWEST_TWO beats a minute in simple
# time, a bar of two is heard as half a bar of four: 2/4 is a march's or a
# polka's meter, brisk; a slow piece with as strong a third beat as its first
# (chords on 1 and 3, a hymn) is still in four.
HALVES = 1.0
SLOWEST_TWO = 92.0


@dataclass(frozen=True)
class Bars:
    meter: int
    time_signature: str
    first: int  # index of the beat that is bar 1 (beats before it are a pickup)


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def _per_beat(values: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Mean of each column span between beats: (rows, beats)."""
    edges = np.r_[frames, min(values.shape[1], frames[-1] + int(np.median(np.diff(frames))))]
    return np.stack(
        [values[:, a : max(b, a + 1)].mean(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1
    )


def _unit(chroma: np.ndarray) -> np.ndarray:
    return chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)


def _harmony_change(per_beat: np.ndarray, span: int) -> np.ndarray:
    """For each beat: 1 - cosine between the chroma of the `span` beats before it and the `span` after."""
    n = per_beat.shape[1]
    out = np.zeros(n)
    for i in range(1, n):
        before = per_beat[:, max(0, i - span) : i].mean(axis=1)
        after = per_beat[:, i : min(n, i + span)].mean(axis=1)
        out[i] = 1 - float(before @ after / (np.linalg.norm(before) * np.linalg.norm(after) + 1e-9))
    out[0] = np.median(out[1:]) if n > 1 else 0.0
    return out


def _hit(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    return np.array([envelope[max(f - 1, 0) : f + 2].max() for f in frames])


def _contrast(accent: np.ndarray, meter: int, first: int) -> float:
    on = np.zeros(len(accent), dtype=bool)
    on[first::meter] = True
    return float(accent[on].mean() - accent[~on].mean())


def bars(heard: Heard, frames: np.ndarray, subdivision: int, split: bool = False, bar: int = 0) -> Bars:
    """The meter and bar 1 of beats at `frames` (of `heard`), the beat divided in
    `subdivision`; `split`: the beats are half notes split in two (pulse.Pulse),
    whose bar is four, as a slow piece's; `bar`: the beats to the bar, when the
    pulse heard the bar as one beat (only bar 1 is then asked)."""
    frames = np.minimum(np.asarray(frames), heard.frames - 1)
    chroma = _unit(_per_beat(heard.chroma, frames))
    # The low end only: a snare's backbeat is loud too, but on 2 and 4.
    hits = _z(_hit(heard.bass, frames))
    # The same measure for every grouping (two beats each side), so that they
    # compare alike: a grouping's own span smooths more the longer it is and
    # favoured four to the bar.
    change = _z(_harmony_change(chroma, CHANGE_SPAN))
    loud = _z(_hit(heard.level_db, frames))
    new = _z(_hit(heard.change, frames))
    accent = HARMONY_WEIGHT * change + ACCENT_WEIGHT * hits + LEVEL_WEIGHT * loud + NEW_WEIGHT * new
    meters = (bar,) if bar else (2, 4) if subdivision == 3 else (2, 3, 4)
    best, choice = -np.inf, (4, 0)
    for meter in meters:
        if len(frames) < 2 * meter:
            continue
        for first in range(meter):
            score = (
                _contrast(accent, meter, first) + METER_PRIOR[meter, subdivision] + START_BONUS * (first == 0)
            )
            if score > best:
                best, choice = score, (meter, first)
    meter, first = choice
    if meter in (2, 4) and len(frames) >= 8 and not bar:
        bpm = 60.0 * heard.fps / float(np.median(np.diff(frames)))
        brisk = (subdivision == 3 or bpm >= SLOWEST_TWO) and not split
        # Whether the chord changes on a beat, beat by beat (one beat each side): two
        # each side blur a change between two near chords (a march's minor tonic
        # to its sixth, two notes shared) into the beats between, and a march
        # whose chords change every bar read as a chord a bar of four.
        moved = _z(_harmony_change(chroma, 1))
        meter, first = _two_or_four(accent, moved, first % 2, HALVES if brisk else 0.0)
    return Bars(meter, SIGNATURES[(meter, subdivision)], first)


def _two_or_four(accent: np.ndarray, change: np.ndarray, first: int, halves: float) -> tuple[int, int]:
    """Two beats to the bar or four, the strong beats (every other one) from beat
    `first` (0 or 1). Four, bar 1 on the stronger of each two strong beats, when
    it stands out over the other by `halves` of how much both stand out over the
    beats between, or when the harmony changes on it and no more on the other
    than between (`change`: a chord a bar of four, its third beat kicked as hard
    as the first). A contrast of downbeats against the rest cannot tell: any
    difference between the strong beats favours the longer bar."""

    def means(x: np.ndarray, at: int) -> tuple[float, float, float]:
        return x[at::4].mean(), x[at + 2 :: 4].mean(), x[at + 1 :: 2].mean()

    strong, weak, between = means(accent, first)
    if strong < weak:
        first = first + 2
        strong, weak, between = means(accent, first)
    moves, stays, moves_between = means(change, first)
    chord_a_bar = moves > moves_between >= stays
    four = strong - weak >= halves * abs((strong + weak) / 2 - between) or chord_a_bar
    return (4, first) if four else (2, first)
