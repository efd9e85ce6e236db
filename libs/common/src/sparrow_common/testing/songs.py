"""Short songs with a known tempo, meter and key, rendered with numpy: drums
(kick on the downbeat, snare on the backbeats, hats on every beat) under a
progression of triads, for tests of what Sparrow hears."""

from __future__ import annotations

import numpy as np

NOTES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
# Scale degrees (semitones above the tonic) of each chord's root, and its quality.
MAJOR_PROGRESSIONS = [[(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")], [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]]
MINOR_PROGRESSIONS = [[(0, "min"), (5, "min"), (7, "maj"), (0, "min")], [(0, "min"), (8, "maj"), (3, "maj"), (7, "maj")]]
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


def _decay(length: int, sample_rate: int, seconds: float) -> np.ndarray:
    return np.exp(-np.arange(length) / (seconds * sample_rate))


def _kick(sample_rate: int) -> np.ndarray:
    n = int(0.25 * sample_rate)
    t = np.arange(n) / sample_rate
    sweep = 2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)
    return np.sin(sweep) * _decay(n, sample_rate, 0.08)


def _snare(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.2 * sample_rate)
    t = np.arange(n) / sample_rate
    return (0.5 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 190 * t)) * _decay(n, sample_rate, 0.05)


def _hat(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.05 * sample_rate)
    noise = np.diff(rng.standard_normal(n + 1))  # bright
    return 0.15 * noise * _decay(n, sample_rate, 0.012)


def _chord(root_midi: int, quality: str, seconds: float, sample_rate: int) -> np.ndarray:
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for interval in TRIADS[quality]:
        for octave in (0, 12):
            freq = 440.0 * 2 ** ((root_midi + interval + octave - 69) / 12)
            out += np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)
    bass = 440.0 * 2 ** ((root_midi - 12 - 69) / 12)
    out += 1.5 * np.sin(2 * np.pi * bass * t)
    envelope = np.minimum(1.0, np.arange(n) / (0.01 * sample_rate)) * np.minimum(1.0, (n - np.arange(n)) / (0.05 * sample_rate))
    return out * envelope / 10


def song(
    tempo_bpm: float,
    meter: int = 4,
    key: str = "C major",
    bars: int = 8,
    sample_rate: int = 22050,
    seed: int = 0,
    drums: bool = True,
    chords: bool = True,
    start_s: float = 0.0,
    progression: list[tuple[int, str]] | None = None,
) -> np.ndarray:
    """(samples,) float32: `bars` bars of `meter` beats at `tempo_bpm` in `key`
    ("A minor"), one chord a bar; the first downbeat at `start_s`. `progression`:
    the chords' (semitones above the tonic, "maj" or "min"), else one of the key's
    two stock progressions (by seed)."""
    rng = np.random.default_rng(seed)
    tonic, mode = key.split()
    tonic_midi = 48 + NOTES.index(tonic)
    progression = progression or (MAJOR_PROGRESSIONS if mode == "major" else MINOR_PROGRESSIONS)[seed % 2]
    beat = 60.0 / tempo_bpm
    length = int((start_s + bars * meter * beat + 0.5) * sample_rate)
    out = np.zeros(length)

    def add(sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
        start = int(round(at_s * sample_rate))
        end = min(start + len(sound), length)
        if start < length:
            out[start:end] += gain * sound[: end - start]

    kick, snare, hat = _kick(sample_rate), _snare(sample_rate, rng), _hat(sample_rate, rng)
    for bar in range(bars):
        bar_start = start_s + bar * meter * beat
        if chords:
            degree, quality = progression[bar % len(progression)]
            add(_chord(tonic_midi + degree, quality, meter * beat, sample_rate), bar_start)
        if not drums:
            continue
        for b in range(meter):
            at = bar_start + b * beat
            add(hat, at)
            if b == 0:
                add(kick, at, 1.0)
            elif meter == 4 and b == 2:
                add(kick, at, 0.6)
            if (meter == 4 and b in (1, 3)) or (meter == 3 and b in (1, 2)):
                add(snare, at, 0.5 if meter == 4 else 0.35)
    return (0.5 * out / max(np.abs(out).max(), 1e-9)).astype(np.float32)
