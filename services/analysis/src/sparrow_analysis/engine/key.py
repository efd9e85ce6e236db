"""The key of a clip: its mean chroma against the Krumhansl-Kessler key profiles.

Krumhansl and Kessler (1982) measured how well each of the twelve pitch classes
fits a major and a minor key; the key whose profile, rotated to its tonic,
correlates best with the clip's chroma is its key. The confidence is that
correlation (0 to 1): a chord progression in one key reads 0.7 to 0.9, drums alone
near nothing, and under MIN_CORRELATION no key is named.
"""

from __future__ import annotations

import librosa
import numpy as np

NOTES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MIN_CORRELATION = 0.5


def key_of_chroma(chroma: np.ndarray) -> tuple[str | None, float]:
    """(key, correlation) for a 12-bin mean chroma (C first)."""
    chroma = np.asarray(chroma, dtype=float)
    if chroma.sum() <= 1e-9 or np.allclose(chroma, chroma[0]):
        return None, 0.0
    scores = []
    for mode, profile in (("major", MAJOR), ("minor", MINOR)):
        for tonic in range(12):
            r = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
            scores.append((r, f"{NOTES[tonic]} {mode}"))
    r, key = max(scores)
    r = float(max(r, 0.0))
    return (key if r >= MIN_CORRELATION else None), round(r, 3)


def key(y: np.ndarray, sr: int) -> tuple[str | None, float]:
    """The key of a mono clip, and how sure (0 to 1)."""
    if np.abs(y).max() < 1e-4:
        return None, 0.0
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=512)
    return key_of_chroma(chroma.mean(axis=1))


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
