"""The key of a clip, with how sure and the key that fits next best.

The clip's pitch classes (heard.key_chroma, a third of a semitone a constant-Q bin,
every sounding frame counted alike), with its first and last two seconds counted
again (pieces end, and most begin, on the tonic: this is what turns a dominant
reading back to the key). That profile is correlated with three
published profiles of each of the 24 keys, rotated to its tonic, and the
correlations averaged:

- Krumhansl and Kessler (1982): listeners' ratings of how well each pitch class fits;
- Temperley (2007): pitch-class counts in the Kostka-Payne textbook's excerpts;
- Albrecht and Shanahan (2013): durations in a corpus of common-practice pieces.

A key and its relative minor or major share their notes: within RELATIVE_MARGIN
of each other (a minor profile wants the raised seventh, which an Aeolian
i-VI-III-VII never plays, so its fit trails the relative major's by up to 0.2),
the relative wins when its tonic triad sounds clearly more (OPENS_ON) in the
clip's first two seconds (i-VI-III-VII is vi-IV-I-V begun on its minor chord).

The confidence is the key's correlation (0 to 1); under MIN_CORRELATION no
key is named. The runner-up is the next best key.

Measured on sparrow_common.testing.pieces (bench/listening.py): counting the bass
again, or only the harmonic part (HPSS), scored no better, and cost more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparrow_analysis.engine.heard import Heard

NOTES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
PROFILES = {
    "major": [
        [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
        [0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400],
        [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081],
    ],
    "minor": [
        [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17],
        [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330],
        [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052],
    ],
}
MIN_CORRELATION = 0.5
FIRST_WEIGHT = 0.25
LAST_WEIGHT = 0.25
# How close the relative key's fit must come for the opening chord to decide,
# and how much more its tonic triad must sound there (the two triads share two
# notes; a path's last seconds may open on any chord, and only a clear opening on
# the relative's tonic turns the reading).
RELATIVE_MARGIN = 0.25
OPENS_ON = 1.4
# A profile whose loudest pitch class is under this times its softest is noise.
MIN_CONTRAST = 1.5
ENDS_S = 2.0


@dataclass(frozen=True)
class Key:
    name: str | None
    confidence: float
    runner_up: str | None


def ranked(chroma: np.ndarray) -> list[tuple[float, str]]:
    """Every key's mean correlation with a 12-bin chroma (C first), best first."""
    scores = []
    for mode, profiles in PROFILES.items():
        for tonic in range(12):
            r = np.mean([np.corrcoef(chroma, np.roll(p, tonic))[0, 1] for p in profiles])
            scores.append((float(r), f"{NOTES[tonic]} {mode}"))
    return sorted(scores, reverse=True)


def key_of_chroma(chroma: np.ndarray) -> tuple[str | None, float]:
    """(key, correlation) for a 12-bin mean chroma (C first)."""
    chroma = np.asarray(chroma, dtype=float)
    if chroma.sum() <= 1e-9 or np.allclose(chroma, chroma[0]):
        return None, 0.0
    r, name = ranked(chroma)[0]
    r = float(max(r, 0.0))
    return (name if r >= MIN_CORRELATION else None), round(r, 3)


def _share(chroma: np.ndarray) -> np.ndarray:
    total = chroma.sum()
    return chroma / total if total > 1e-12 else chroma


def _sounding(heard: Heard) -> np.ndarray:
    """The frames within 40 dB of the clip's loudest."""
    return np.flatnonzero(heard.level_db > heard.level_db.max() - 40)


def _weights(heard: Heard, frames: np.ndarray) -> np.ndarray:
    """The pitch classes' shares over `frames`."""
    return _share(heard.key_chroma[:, frames].sum(axis=1))


def profile(heard: Heard) -> np.ndarray:
    """The clip's pitch-class weights: every sounding frame alike, then its first
    and last ENDS_S again."""
    sounding = _sounding(heard)
    if not len(sounding):
        return np.zeros(12)
    ends = int(ENDS_S * heard.fps)
    return (
        _weights(heard, sounding)
        + FIRST_WEIGHT * _weights(heard, sounding[:ends])
        + LAST_WEIGHT * _weights(heard, sounding[-ends:])
    )


def _triad(name: str) -> list[int]:
    tonic, mode = name.split()
    root = NOTES.index(tonic)
    return [root, (root + (4 if mode == "major" else 3)) % 12, (root + 7) % 12]


def _relative(name: str) -> str:
    tonic, mode = name.split()
    root = NOTES.index(tonic)
    return f"{NOTES[(root - 3) % 12]} minor" if mode == "major" else f"{NOTES[(root + 3) % 12]} major"


def key(heard: Heard) -> Key:
    """The key of a clip, how sure (0 to 1), and the runner-up."""
    chroma = profile(heard)
    if chroma.sum() <= 1e-9 or chroma.max() < MIN_CONTRAST * chroma.min():
        return Key(None, 0.0, None)
    scores = ranked(chroma)
    (r, name), (_, second) = scores[:2]
    r = float(max(r, 0.0))
    if r < MIN_CORRELATION:
        return Key(None, round(r, 3), None)
    # A key and its relative share their notes (Am F C G is C G Am F begun
    # elsewhere): when both fit alike, the one whose tonic chord opens the clip.
    other = _relative(name)
    other_r = dict((n, v) for v, n in scores)[other]
    opening = _opening(heard)
    if (
        other_r >= r - RELATIVE_MARGIN
        and opening[_triad(other)].sum() > OPENS_ON * opening[_triad(name)].sum()
    ):
        return Key(other, round(max(other_r, 0.0), 3), name)
    return Key(name, round(r, 3), second)


def _opening(heard: Heard) -> np.ndarray:
    """The pitch-class weights of the clip's first ENDS_S of sound."""
    return _weights(heard, _sounding(heard)[: int(ENDS_S * heard.fps)])


def relation(a: str | None, b: str | None) -> str | None:
    """'same', 'relative' (the major and minor keys that share their notes), or 'other'."""
    if a is None or b is None:
        return None
    if a == b:
        return "same"
    (ta, ma), (tb, mb) = a.split(), b.split()
    ia, ib = NOTES.index(ta), NOTES.index(tb)
    if ma != mb:
        major, minor = (ia, ib) if ma == "major" else (ib, ia)
        if (major - minor) % 12 == 3:
            return "relative"
    return "other"
