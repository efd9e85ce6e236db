"""Pieces played on sampled instruments, with their truth: MIDI written here (mido)
and rendered by Debian's `fluidsynth` on the General MIDI soundfont
(`fluid-soundfont-gm`), for measuring what Sparrow hears on real instrument sound.

Each piece knows its tempo (the beat's: the dotted quarter in 6/8 and 12/8), time
signature, beat and downbeat times, and key; a piece with no pulse (rubato held
chords, a drone, noise, silence) has none. Everything is drawn from one seed:
styles (pop, rock, waltz, march, 6/8 and 12/8 shuffles, ballads, solo piano,
strummed guitar, string pads, organ, choir, flute and guitar chorales, a
bass-and-keys duo), instruments, voicings, accents, a few ms of humanised timing,
all twelve tonics in major and minor, a chord a bar, two a bar or one held over
two, and pickups before bar 1. Audio is rendered in the run and cached in a
temporary folder, never committed.

    pieces(48, seed=0) -> [Piece]; render(piece) -> (samples,) float32 at 22.05 kHz
"""

from __future__ import annotations

import atexit
import hashlib
import math
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
NOTES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
TICKS = 960  # per MIDI quarter; the file's tempo is fixed at 120 so a second is 2 * TICKS

# Scale steps (semitones) of the triads used, by Roman numeral.
CHORDS = {
    "I": (0, "maj"),
    "ii": (2, "min"),
    "iii": (4, "min"),
    "IV": (5, "maj"),
    "V": (7, "maj"),
    "vi": (9, "min"),
    "V7": (7, "dom7"),
    "ii7": (2, "min7"),
    "IVmaj7": (5, "maj7"),
    "i": (0, "min"),
    "iio": (2, "dim"),
    "III": (3, "maj"),
    "iv": (5, "min"),
    "v": (7, "min"),
    "VI": (8, "maj"),
    "VII": (10, "maj"),
    "viio": (11, "dim"),
}
SHAPES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "dom7": (0, 4, 7, 10),
    "min7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
}
PROGRESSIONS = {
    "major": [
        ["I", "V", "vi", "IV"],
        ["I", "IV", "V", "I"],
        ["I", "vi", "IV", "V"],
        ["I", "IV", "I", "V7"],
        ["ii7", "V7", "I", "I"],
        ["I", "iii", "IV", "V"],
        ["I", "V", "IV", "I"],
        ["IV", "I", "V", "vi"],
        ["I", "ii", "V7", "I"],
        ["I", "vi", "ii", "V"],
    ],
    "minor": [
        ["i", "VI", "III", "VII"],
        ["i", "iv", "V", "i"],
        ["i", "VII", "VI", "V"],
        ["i", "iv", "VII", "III"],
        ["i", "iio", "V7", "i"],
        ["i", "VI", "iv", "V"],
        ["i", "v", "VI", "V"],
        ["VI", "VII", "i", "i"],
        ["i", "III", "iv", "V7"],
    ],
}
# Chorales change harmony every beat or two; their phrases end on cadences.
CADENCE = {"major": ["ii", "V7", "I"], "minor": ["iv", "V7", "i"]}


@dataclass(frozen=True)
class Note:
    channel: int
    pitch: int
    start_s: float
    end_s: float
    velocity: int


@dataclass(frozen=True)
class Piece:
    """A piece and its truth. `tempo_bpm`, `time_signature`, `meter` and the
    beats are None / empty when it has no pulse; `key` is None when it has none."""

    name: str
    style: str
    tempo_bpm: float | None
    time_signature: str | None
    meter: int | None
    key: str | None
    beats_s: list[float]
    downbeats_s: list[float]
    duration_s: float
    seed: int
    programs: dict[int, int] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()
    # "noise" or "silence": no MIDI, made with numpy.
    sound: str = "midi"

    @property
    def has_pulse(self) -> bool:
        return self.tempo_bpm is not None


# -- harmony and voicing ---------------------------------------------------------------


def _chord_pcs(tonic: int, numeral: str) -> list[int]:
    step, shape = CHORDS[numeral]
    return [(tonic + step + i) % 12 for i in SHAPES[shape]]


def _nearest(pc: int, target: float) -> int:
    """The MIDI note of pitch class `pc` nearest to `target`."""
    base = int(round(target)) - 6
    return min((base + ((pc - base) % 12) + k for k in (-12, 0, 12)), key=lambda n: abs(n - target))


def _voicing(
    pcs: list[int], previous: list[int] | None, rng, lows=(40, 52, 57, 64), highs=(60, 67, 74, 81)
) -> list[int]:
    """Four voices (bass, tenor, alto, soprano): the root in the bass (sometimes the
    third), the upper voices each moving to the nearest chord tone."""
    root = pcs[0] if rng.random() > 0.15 else pcs[1]
    prev = previous or [int(rng.integers(45, 52)), 57, 62, 69]
    bass = _nearest(root, prev[0])
    bass = bass + 12 if bass < lows[0] else bass - 12 if bass > highs[0] - 4 else bass
    upper, used = [], set()
    for voice in (1, 2, 3):
        options = sorted(pcs, key=lambda pc: (pc in used, abs(_nearest(pc, prev[voice]) - prev[voice])))
        note = _nearest(options[0], prev[voice])
        note = max(lows[voice], min(highs[voice], note))
        while note % 12 != options[0]:
            note += 1
        used.add(options[0])
        upper.append(note)
    upper.sort()
    return [bass, *upper]


def _progression(rng, mode: str, chords: int) -> list[str]:
    options = PROGRESSIONS[mode]
    pattern = options[int(rng.integers(len(options)))]
    return [pattern[i % len(pattern)] for i in range(chords)]


# -- the grid ------------------------------------------------------------------------


@dataclass
class Grid:
    """Where beats and bars fall: `beat_s` apart, `meter` to the bar, bar 1 at `bar1_s`."""

    beat_s: float
    meter: int
    sub: int  # subdivisions of the beat: 2 (simple time) or 3 (compound)
    bar1_s: float
    bars: int
    rng: np.random.Generator
    swing: float = 0.0  # 0: straight; 1/3: the off-beat eighth on the triplet (simple time only)
    human_ms: float = 8.0

    def beat(self, bar: int, beat: float) -> float:
        return self.bar1_s + (bar * self.meter + beat) * self.beat_s

    def at(self, bar: int, beat: float) -> float:
        """A played time: the grid's, swung and humanised by a few ms."""
        whole, frac = divmod(beat, 1.0)
        if self.swing and abs(frac - 0.5) < 1e-6:
            frac = 0.5 + self.swing / 2
        jitter = self.rng.normal(0, self.human_ms / 1000)
        return max(0.0, self.beat(bar, whole + frac) + jitter)

    @property
    def end_s(self) -> float:
        return self.beat(self.bars, 0)


def _vel(rng, base: int, accent: int = 0) -> int:
    return int(np.clip(base + accent + rng.normal(0, 5), 20, 127))


# -- parts ---------------------------------------------------------------------------


def _drums(g: Grid, style: str, out: list[Note]) -> None:
    """A kit on channel 10 (index 9): the style's pattern, a crash on bar 1."""
    rng, ch = g.rng, 9

    def hit(pitch, bar, beat, vel, length=0.1):
        t = g.at(bar, beat)
        out.append(Note(ch, pitch, t, t + length, _vel(rng, vel)))

    for bar in range(g.bars):
        if bar == 0 or (bar % 4 == 0 and rng.random() < 0.5):
            hit(49, bar, 0, 95, 1.0)
        if g.sub == 3:  # shuffles: ride or hat on every triplet, kick on 1 (and 3), snare on the backbeats
            for b in range(g.meter):
                for k in range(3):
                    hit(42 if style != "blues" else 51, bar, b + k / 3, 75 if k == 0 else 55)
                if b == 0 or (g.meter == 4 and b == 2):
                    hit(36, bar, b, 105 if b == 0 else 90)
                if (g.meter == 4 and b in (1, 3)) or (g.meter == 2 and b == 1):
                    hit(38, bar, b, 95)
            continue
        if g.meter == 3:  # waltz: kick on 1, hats or brushes on 2 and 3
            hit(36, bar, 0, 100)
            for b in (1, 2):
                hit(42 if rng.random() < 0.7 else 37, bar, b, 70)
            continue
        if g.meter == 2:  # march: bass drum on 1, snare on 2 and the off-beats
            hit(36, bar, 0, 105)
            hit(38, bar, 1, 90)
            hit(38, bar, 1.5, 60)
            continue
        eighths = style in ("rock", "pop", "loop") or rng.random() < 0.6
        for b in range(4):
            for half in (0, 0.5) if eighths else (0,):
                hit(
                    46 if (style == "rock" and half and b == 3 and rng.random() < 0.3) else 42,
                    bar,
                    b + half,
                    80 if half == 0 else 60,
                )
            if b in (0, 2):
                hit(36, bar, b, 105 if b == 0 else 95)
            if b in (1, 3):
                hit(38, bar, b, 100)
        if style == "rock" and rng.random() < 0.5:
            hit(36, bar, 2.5, 85)


def _bass_line(g: Grid, chords, tonic_bass: int, pattern: str, out: list[Note], ch: int = 1) -> None:
    rng = g.rng
    for bar, beat, length, pcs in chords:
        root = _nearest(pcs[0], tonic_bass)
        if pattern == "root":
            t = g.at(bar, beat)
            out.append(Note(ch, root, t, t + length * g.beat_s * 0.95, _vel(rng, 95, 10 if beat == 0 else 0)))
            continue
        steps = np.arange(0, length, 1.0 if pattern in ("quarters", "oompah") else 0.5 if g.sub == 2 else 1.0)
        for i, s in enumerate(steps):
            pitch = root if i % 4 != 2 or pattern == "eighths" else _nearest(pcs[2], root + 5)
            if pattern == "oompah":  # a march's or a polka's bass: the root on 1, the fifth below on 2
                pitch = root if i % 2 == 0 else _nearest(pcs[2], root - 5)
            if pattern == "walk" and i == len(steps) - 1:
                pitch = root + int(rng.choice([-1, 2, 5]))
            t = g.at(bar, beat + s)
            dur = (1.0 if pattern != "eighths" else 0.5) * g.beat_s * 0.9
            out.append(Note(ch, pitch, t, t + dur, _vel(rng, 90, 12 if (beat + s) == 0 else 0)))


def _block(g: Grid, chords, voicing_low: float, pattern: str, out: list[Note], ch: int = 2) -> None:
    """Chords in the right hand or a pad: held, struck on beats, strummed or broken."""
    rng, previous = g.rng, None
    for bar, beat, length, pcs in chords:
        v = _voicing(pcs, previous, rng)
        previous = v
        upper = [n + int(round((voicing_low - 57) / 12)) * 12 for n in v[1:]]
        if pattern == "held":
            t = g.at(bar, beat)
            for n in upper:
                out.append(Note(ch, n, t, t + length * g.beat_s * 0.98, _vel(rng, 70, 8 if beat == 0 else 0)))
        elif pattern in ("beats", "offbeats", "strum", "waltz", "compound", "triplets"):
            if pattern == "beats":
                hits = np.arange(0, length, 1.0)
            elif pattern == "offbeats":
                hits = np.arange(0.5, length, 1.0)
            elif pattern == "waltz":
                hits = [b for b in np.arange(0, length, 1.0) if (beat + b) % 3 != 0]
            elif pattern == "compound":  # oom-pah-pah: the bass takes each beat
                hits = [b + k / 3 for b in np.arange(0, length, 1.0) for k in (1, 2)]
            elif pattern == "triplets":  # a 6/8 strum or broken chord: all three eighths
                hits = [b + k / 3 for b in np.arange(0, length, 1.0) for k in (0, 1, 2)]
            else:
                hits = [
                    b + h for b in np.arange(0, length, 1.0) for h in (0, 0.5) if h == 0 or rng.random() < 0.7
                ]
            for h in hits:
                t0 = g.at(bar, beat + h)
                down = pattern != "strum" or abs(h % 1) < 1e-6
                order = upper if down else upper[::-1]
                spread = 0.012 if pattern == "strum" else 0.0
                step = (
                    1.0 / g.sub
                    if pattern in ("compound", "triplets")
                    else 0.5
                    if pattern in ("strum", "offbeats")
                    else 1.0
                )
                acc = 14 if abs((beat + h) % g.meter) < 1e-6 else (6 if abs(h % 1) < 1e-6 else 0)
                for i, n in enumerate(order):
                    t = t0 + i * spread
                    out.append(Note(ch, n, t, t + step * g.beat_s * 0.9, _vel(rng, 72, acc)))
        else:  # broken chords: arpeggios on eighths (simple) or triplets (compound), or Alberti
            tones = sorted(upper + [upper[0] + 12])
            per = g.sub * (2 if pattern == "sixteenths" else 1)
            order = {"alberti": [0, 2, 1, 2], "up": [0, 1, 2, 3], "updown": [0, 1, 2, 3, 2, 1]}.get(
                pattern, [0, 1, 2, 3]
            )
            for i, s in enumerate(np.arange(0, length, 1.0 / per)):
                n = tones[order[i % len(order)] % len(tones)]
                t = g.at(bar, beat + s)
                acc = 14 if abs((beat + s) % g.meter) < 1e-6 else (6 if abs(s % 1) < 1e-6 else 0)
                out.append(Note(ch, n, t, t + g.beat_s / per * 1.6, _vel(rng, 62, acc)))


def _melody(
    g: Grid, chords, tonic: int, mode: str, low: int, out: list[Note], ch: int = 3, density: float = 1.0
) -> None:
    """A stepwise tune in the key: chord tones on the beats, passing steps between."""
    rng = g.rng
    scale = [
        (tonic + s) % 12 for s in ((0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 11))
    ]
    pitch = _nearest(tonic, low + 7)
    for bar, beat, length, pcs in chords:
        s = 0.0
        while s < length - 1e-6:
            dur = float(
                rng.choice([1.0, 0.5, 2.0, 1.0], p=[0.45, 0.25 * density, 0.15, 0.15 - 0.0])
                if g.sub == 2
                else rng.choice([1.0, 1 / 3, 2 / 3, 2.0], p=[0.5, 0.15, 0.2, 0.15])
            )
            dur = min(dur, length - s)
            on_beat = abs((beat + s) % 1) < 1e-6
            candidates = pcs if on_beat else scale
            options = [_nearest(pc, pitch) for pc in candidates]
            options = [n for n in options if low <= n <= low + 19 and n != pitch] or [pitch]
            pitch = min(options, key=lambda n: abs(n - pitch) + rng.random() * 3)
            t = g.at(bar, beat + s)
            acc = 12 if abs((beat + s) % g.meter) < 1e-6 else 0
            out.append(Note(ch, pitch, t, t + dur * g.beat_s * 0.92, _vel(rng, 82, acc)))
            s += dur


def _chorale(g: Grid, tonic: int, mode: str, rhythm: float, out: list[Note], channels=(0, 1, 2, 3)) -> None:
    """Four voices, a chord every `rhythm` beats (1, or 2 in 4/4 and 3 in 3/4, the tune
    then moving on the beats), phrases of two or four bars ending on a cadence held
    for the phrase's last bar."""
    rng, previous = g.rng, None
    phrase = 2 if g.bars <= 6 else int(rng.choice([2, 4]))
    numerals: list[tuple[int, float, float, str]] = []
    pool = PROGRESSIONS[mode]
    for start in range(0, g.bars, phrase):
        bars = min(phrase, g.bars - start)
        slots = [(start + int(b // g.meter), b % g.meter) for b in np.arange(0, bars * g.meter, rhythm)]
        pattern = pool[int(rng.integers(len(pool)))]
        names = [pattern[i % len(pattern)] for i in range(len(slots))]
        last = start + bars == g.bars
        cad = CADENCE[mode] if last or rng.random() < 0.6 else [CADENCE[mode][0], "V"]
        hold = g.meter - 1 if g.meter > 2 else 1
        # The cadence's last chord lands on the phrase's last downbeat and is held.
        tail = [(start + bars - 1, 0.0)]
        body = [s for s in slots if s[0] < start + bars - 1]
        names = names[: len(body)]
        if len(body) >= 2:
            names[-2:] = cad[:2]
        for (bar, beat), name in zip(body, names):
            numerals.append((bar, beat, rhythm, name))
        numerals.append((tail[0][0], 0.0, float(g.meter if hold else 1), cad[-1]))
    if numerals and numerals[0][3] not in ("I", "i"):
        bar, beat, length, _ = numerals[0]
        numerals[0] = (bar, beat, length, "I" if mode == "major" else "i")
    for bar, beat, length, name in numerals:
        v = _voicing(_chord_pcs(tonic, name), previous, rng)
        t0 = g.at(bar, beat)
        for voice, n in enumerate(v):
            ch = channels[voice]
            acc = 12 if beat == 0 else 0
            if voice == 3 and length >= 2 and not (numerals[-1][0] == bar and rng.random() < 0.7):
                # the tune moves on every beat of a held chord (held at the cadence)
                pitch = n
                for k in range(int(length)):
                    t = g.at(bar, beat + k)
                    out.append(Note(ch, pitch, t, t + g.beat_s * 0.95, _vel(rng, 80, acc if k == 0 else 0)))
                    pitch = _nearest((pitch + int(rng.choice([-2, -1, 2, 1, 0]))) % 12, pitch)
                continue
            if voice in (1, 2) and length == 1 and rng.random() < 0.12:  # a passing eighth in an inner voice
                mid = g.at(bar, beat + 0.5)
                out.append(Note(ch, n, t0, mid - 0.01, _vel(rng, 74, acc)))
                out.append(
                    Note(ch, n + int(rng.choice([-2, -1, 1, 2])), mid, t0 + g.beat_s * 0.97, _vel(rng, 66))
                )
                continue
            if previous is not None and previous[voice] == n and rng.random() < 0.3:
                # a common tone held over: extend the last note of this voice instead of striking again
                for j in range(len(out) - 1, -1, -1):
                    if out[j].channel == ch and out[j].pitch == n:
                        out[j] = Note(ch, n, out[j].start_s, t0 + length * g.beat_s * 0.97, out[j].velocity)
                        break
                continue
            out.append(Note(ch, n, t0, t0 + length * g.beat_s * 0.97, _vel(rng, 78, acc)))
        previous = v


def _chord_list(g: Grid, tonic: int, mode: str, per_bar: float) -> list[tuple[int, float, float, list[int]]]:
    """(bar, beat, beats long, pitch classes): `per_bar` chords a bar (2, 1 or 0.5: held over two);
    the last bar is the tonic."""
    rng = g.rng
    if per_bar >= 1:
        # Chords change on beats: two a bar in 3/4 fall on 1 and 3 (on 1 and the
        # "and" of 2 the bar plays two dotted quarters, as 6/8 does).
        starts = [math.ceil(g.meter * b / per_bar) for b in range(int(per_bar))]
        spans = [(s, e - s) for s, e in zip(starts, [*starts[1:], g.meter])]
        slots = [(bar, float(s), float(n)) for bar in range(g.bars) for s, n in spans]
    else:
        slots = [(bar, 0.0, 2.0 * g.meter) for bar in range(0, g.bars, 2)]
    names = _progression(rng, mode, len(slots))
    out = []
    for i, ((bar, beat, length), name) in enumerate(zip(slots, names)):
        if i == len(slots) - 1 and rng.random() < 0.6:
            name = "I" if mode == "major" else "i"
        out.append((bar, beat, min(length, (g.bars - bar) * g.meter - beat), _chord_pcs(tonic, name)))
    return out


# -- styles ---------------------------------------------------------------------------
# Each: (time signatures, tempo range of the beat, drums?, GM programs, how it is played).

STYLES = {
    "pop": (["4/4"], (84, 132), True),
    "rock": (["4/4"], (100, 168), True),
    "loop": (["4/4"], (90, 140), True),
    "waltz": (["3/4"], (96, 180), None),
    "march": (["2/4"], (100, 126), True),
    "six-eight": (["6/8"], (52, 96), None),
    "shuffle": (["12/8"], (60, 100), True),
    "blues": (["12/8"], (56, 84), True),
    "ballad": (["4/4", "3/4"], (60, 84), None),
    "piano": (["4/4", "3/4", "6/8"], (66, 140), False),
    "guitar": (["4/4", "3/4", "6/8"], (72, 140), False),
    "strings": (["4/4", "3/4"], (60, 112), False),
    "duo": (["4/4", "3/4", "12/8"], (72, 136), False),
    "chorale": (["4/4", "3/4"], (60, 110), False),
    "flute": (["4/4", "3/4", "6/8"], (70, 132), False),
}
CHORALE_INSTRUMENTS = {
    "organ": [19, 19, 19, 19],
    "church organ": [19, 20, 19, 19],
    "strings": [42, 41, 40, 40],
    "choir": [52, 52, 52, 52],
    "guitar": [24, 24, 25, 24],
    "flute": [71, 68, 73, 73],
    "piano": [0, 0, 0, 0],
    "brass": [58, 61, 56, 56],
}
NO_PULSE = ["rubato", "drone", "noise", "silence"]


def _harmonic_rhythm(style: str, signature: str, per_bar: float) -> float:
    """The chords a bar that let the meter be heard, as real music plays it: a
    2/4 march or a 6/8 jig changes chord with each short bar (held over two, it
    plays 4/4 or 12/8); a 12/8 shuffle or slow blues, and 4/4 pop, rock and loops
    over a kit, hold a chord a whole bar of four beats or more (two a bar, with
    the kick on 1 and 3 and the snare on 2 and 4, they play 2/4 or 6/8). Pieces
    without a kit keep whatever was drawn: their accents mark the bar."""
    if signature in ("2/4", "6/8"):
        return 1.0
    if signature == "12/8" or style in ("pop", "rock", "loop"):
        return min(per_bar, 1.0)
    return per_bar


def _time(signature: str) -> tuple[int, int]:
    """(beats to the bar, subdivisions of the beat): 6/8 is two dotted quarters."""
    return {"2/4": (2, 2), "3/4": (3, 2), "4/4": (4, 2), "6/8": (2, 3), "12/8": (4, 3)}[signature]


def _piece(style: str, index: int, seed: int, seconds: tuple[float, float]) -> Piece:
    rng = np.random.default_rng([seed, index])
    tonic, mode = int(rng.integers(12)), str(rng.choice(["major", "minor"]))
    key = f"{NOTES[tonic]} {mode}"
    signatures, (lo, hi), drums = STYLES[style]
    signature = str(rng.choice(signatures))
    meter, sub = _time(signature)
    tempo = float(np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))), 1))
    if sub == 3 and signatures != [signature]:
        tempo = round(tempo * 2 / 3, 1)  # the range is the quarter's; a compound beat is three eighths
    beat_s = 60.0 / tempo
    duration = float(rng.uniform(*seconds))
    drums = bool(rng.random() < 0.5) if drums is None else drums
    # A pickup of one or two beats before bar 1 in about one piece of five (not with drums' crash).
    pickup = int(rng.integers(1, meter)) if meter > 1 and rng.random() < 0.3 and not drums else 0
    lead = float(rng.choice([0.0, 0.0, rng.uniform(0.05, 0.6)]))
    bar1 = lead + pickup * beat_s
    bars = max(2, int(math.ceil((duration - bar1) / (meter * beat_s))))
    g = Grid(beat_s, meter, sub, bar1, bars, rng, human_ms=float(rng.uniform(2, 10)))
    if style == "shuffle" and sub == 2:
        g.swing = 1 / 3
    notes: list[Note] = []
    programs: dict[int, int] = {}
    bass_at = 36 + tonic if tonic < 8 else 24 + tonic
    per_bar = float(rng.choice([1, 1, 1, 2, 0.5])) if meter >= 3 else float(rng.choice([1, 1, 0.5]))
    per_bar = _harmonic_rhythm(style, signature, per_bar)
    chords = _chord_list(g, tonic, mode, per_bar)

    if style in ("pop", "rock", "loop", "march", "shuffle", "blues"):
        guitar = {
            "pop": [0, 4, 5, 25, 27, 16, 18],
            "rock": [29, 30, 27, 18],
            "loop": [0, 4, 88, 89, 81],
            "march": [61, 56, 57, 60],
            "shuffle": [0, 4, 16, 26],
            "blues": [0, 4, 16, 26, 65],
        }[style]
        programs = {
            1: int(rng.choice([33, 34, 32, 35, 38])),
            2: int(rng.choice(guitar)),
            3: int(rng.choice([73, 65, 66, 56, 80, 11])),
        }
        # Drawn as before (a march's too), so that the other styles' pieces stay as they were.
        bass = str(rng.choice(["root", "quarters"])) if style not in ("rock", "blues") else ""
        bass = {"rock": "eighths", "blues": "walk", "march": "oompah"}.get(style, bass)
        _bass_line(g, chords, bass_at, bass, notes)
        low = 57 + int(rng.integers(-3, 6))
        comping = ""
        if sub == 2 and style != "rock":
            comping = str(rng.choice(["strum", "beats", "held", "offbeats"]))
        if style == "march" and comping in ("held", "strum"):
            comping = "offbeats"  # oom-pah: the bass on the beats, the band's chords after them
        _block(g, chords, low, "compound" if sub == 3 else comping or "beats", notes)
        if rng.random() < 0.6:
            _melody(g, chords, tonic, mode, 67 + int(rng.integers(-5, 5)), notes)
    elif style in ("waltz", "six-eight"):
        programs = {
            1: int(rng.choice([32, 43, 0, 70])),
            2: int(rng.choice([0, 48, 21, 24, 46])),
            3: int(rng.choice([40, 73, 71, 68, 0])),
        }
        # oom-pah-pah: in 3/4 the bass on 1, in 6/8 on both dotted quarters
        _bass_line(g, chords, bass_at, "root" if meter == 3 else "quarters", notes)
        _block(g, chords, 60, "waltz" if meter == 3 else "compound", notes)
        _melody(g, chords, tonic, mode, 69, notes)
    elif style == "ballad":
        programs = {
            1: int(rng.choice([32, 33, 42])),
            2: int(rng.choice([0, 1, 4])),
            3: int(rng.choice([48, 49, 89])),
            4: int(rng.choice([73, 40, 0, 65])),
        }
        _bass_line(g, chords, bass_at, "root", notes)
        _block(g, chords, 57, str(rng.choice(["up", "updown", "alberti"])), notes)
        _block(g, chords, 64, "held", notes, ch=3)
        if rng.random() < 0.6:
            _melody(g, chords, tonic, mode, 69, notes, ch=4)
    elif style == "piano":
        programs = {0: int(rng.choice([0, 1, 2])), 1: 0}
        _bass_line(g, chords, bass_at + 12, str(rng.choice(["root", "quarters"])), notes, ch=0)
        _block(
            g,
            chords,
            55,
            str(rng.choice(["alberti", "up", "updown", "beats", "waltz" if meter == 3 else "strum"]))
            if sub == 2
            else "triplets",
            notes,
            ch=0,
        )
        _melody(g, chords, tonic, mode, 69, notes, ch=1)
    elif style == "guitar":
        programs = {0: int(rng.choice([24, 25, 26])), 1: int(rng.choice([24, 25, 32]))}
        _bass_line(g, chords, bass_at + 12, "root", notes, ch=1)
        _block(g, chords, 55, "strum" if sub == 2 else "triplets", notes, ch=0)
    elif style == "strings":
        programs = {
            1: int(rng.choice([42, 43, 32])),
            2: int(rng.choice([48, 49, 50, 44, 89])),
            3: int(rng.choice([40, 41, 71, 68])),
        }
        _bass_line(g, chords, bass_at, "quarters", notes)
        _block(g, chords, 57, "held", notes)
        _melody(g, chords, tonic, mode, 67, notes)
    elif style == "duo":
        programs = {1: int(rng.choice([32, 33, 35])), 2: int(rng.choice([4, 5, 0, 16, 11]))}
        _bass_line(g, chords, bass_at, "walk" if sub == 2 else "quarters", notes)
        _block(
            g, chords, 58, "triplets" if sub == 3 else str(rng.choice(["offbeats", "beats", "strum"])), notes
        )
    elif style in ("chorale", "flute"):
        choice = "flute" if style == "flute" else str(rng.choice(list(CHORALE_INSTRUMENTS)))
        programs = dict(enumerate(CHORALE_INSTRUMENTS[choice]))
        if style == "flute" and sub == 3:
            _block(g, chords, 60, "triplets", notes, ch=1)
            _bass_line(g, chords, bass_at + 12, "root", notes, ch=0)
            _melody(g, chords, tonic, mode, 72, notes, ch=3)
        else:
            _chorale(
                g, tonic, mode, float(rng.choice([1.0, 1.0, 2.0] if meter == 4 else [1.0, 1.0, 3.0])), notes
            )
        style = f"chorale ({choice})"
    if drums:
        _drums(g, style, notes)
    if pickup:  # the tune's pickup: a note on each beat before bar 1, up to the tonic
        for b in range(pickup):
            t = lead + b * beat_s
            pitch = _nearest((tonic + (7 if b == 0 else 11)) % 12, 70)
            notes.append(Note(3 if 3 in programs else 0, pitch, t, t + beat_s * 0.9, 78))
        programs.setdefault(3, 73)
    beats = [
        round(lead + i * beat_s, 4) for i in range(pickup + bars * meter) if lead + i * beat_s < duration
    ]
    downbeats = [
        round(bar1 + i * meter * beat_s, 4) for i in range(bars) if bar1 + i * meter * beat_s < duration
    ]
    notes = [n for n in notes if n.start_s < duration]
    name = (
        f"{index:02d} {style} {signature} {tempo:g} bpm {key}"
        + (" drums" if drums else "")
        + (" pickup" if pickup else "")
    )
    return Piece(
        name,
        style,
        tempo,
        signature,
        meter,
        key,
        beats,
        downbeats,
        round(duration, 3),
        seed,
        programs,
        tuple(notes),
    )


def _no_pulse(kind: str, index: int, seed: int, seconds: tuple[float, float]) -> Piece:
    rng = np.random.default_rng([seed, index])
    duration = float(rng.uniform(*seconds))
    tonic, mode = int(rng.integers(12)), str(rng.choice(["major", "minor"]))
    notes: list[Note] = []
    programs: dict[int, int] = {}
    key = None
    if kind == "rubato":  # held chords at uneven times, slow attacks
        programs = {0: int(rng.choice([48, 49, 89, 91, 52, 19]))}
        t, previous = 0.0, None
        names = _progression(rng, mode, 12)
        for name in names:
            length = float(rng.uniform(2.2, 6.5))
            v = _voicing(_chord_pcs(tonic, name), previous, rng)
            previous = v
            for n in v:
                start = t + float(rng.uniform(0, 0.25))
                notes.append(Note(0, n, start, t + length + 0.3, _vel(rng, 60)))
            t += length
            if t > duration:
                break
    elif kind == "drone":
        programs = {0: int(rng.choice([19, 48, 89, 52, 109]))}
        root = 36 + tonic
        for n in (root, root + 7, root + 12):
            notes.append(Note(0, n, 0.0, duration, 70))
    name = f"{index:02d} no pulse: {kind}"
    return Piece(
        name,
        kind,
        None,
        None,
        None,
        key,
        [],
        [],
        round(duration, 3),
        seed,
        programs,
        tuple(notes),
        sound=kind if kind in ("noise", "silence") else "midi",
    )


def pieces(
    count: int = 48, seed: int = 0, seconds: tuple[float, float] = (20.0, 30.0), no_pulse: int | None = None
) -> list[Piece]:
    """`count` pieces: every style in turn (four-part chorales four times as often:
    real music without drums leans on them), and about one in eight with no pulse."""
    styles = [s for s in STYLES for _ in range(4 if s == "chorale" else 1)]
    quiet = min(count, max(1, count // 8)) if no_pulse is None else no_pulse
    out = []
    for i in range(count - quiet):
        out.append(_piece(styles[(i + seed) % len(styles)], i, seed, seconds))
    for j in range(quiet):
        out.append(_no_pulse(NO_PULSE[j % len(NO_PULSE)], count - quiet + j, seed, seconds))
    return out


def loop(sample_rate: int = 22050, cache: Path | None = None) -> tuple[np.ndarray, Piece]:
    """The plain two-bar 4/4 loop at 120 bpm (kick on 1 and 3, snare on 2 and 4,
    eighth hats, A minor then F major, a bar each), played twice, bar 1 at 0 s."""
    rng = np.random.default_rng(7)
    g = Grid(0.5, 4, 2, 0.0, 4, rng, human_ms=0.0)
    notes: list[Note] = []
    for bar in range(4):
        for b in range(4):
            for half in (0, 0.5):
                notes.append(
                    Note(9, 42, g.at(bar, b + half), g.at(bar, b + half) + 0.1, 80 if half == 0 else 60)
                )
            if b in (0, 2):
                notes.append(Note(9, 36, g.at(bar, b), g.at(bar, b) + 0.1, 105))
            if b in (1, 3):
                notes.append(Note(9, 38, g.at(bar, b), g.at(bar, b) + 0.1, 100))
        chord = [45, 57, 60, 64] if bar % 2 == 0 else [41, 57, 60, 65]
        for n in chord:
            notes.append(Note(0, n, g.beat(bar, 0), g.beat(bar, 4) - 0.02, 85))
    piece = Piece(
        "two-bar loop",
        "loop",
        120.0,
        "4/4",
        4,
        "A minor",
        [i * 0.5 for i in range(16)],
        [0.0, 2.0, 4.0, 6.0],
        8.0,
        7,
        {0: 0},
        tuple(notes),
    )
    return render(piece, sample_rate, cache), piece


# -- MIDI and rendering ---------------------------------------------------------------


def midi_file(piece: Piece):
    """The piece as a mido.MidiFile (type 1: one track per channel, tempo fixed at 120)."""
    import mido

    per_second = 2 * TICKS
    tracks = {}
    for n in piece.notes:
        tracks.setdefault(n.channel, []).extend(
            [
                (
                    int(round(n.start_s * per_second)),
                    1,
                    mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity),
                ),
                (
                    int(round(n.end_s * per_second)),
                    0,
                    mido.Message("note_off", channel=n.channel, note=n.pitch, velocity=0),
                ),
            ]
        )
    out = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    out.tracks.append(meta)
    for channel, events in sorted(tracks.items()):
        track = mido.MidiTrack()
        if channel != 9:
            track.append(
                mido.Message(
                    "program_change", channel=channel, program=piece.programs.get(channel, 0), time=0
                )
            )
        now = 0
        for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        out.tracks.append(track)
    return out


def _cache_dir() -> Path:
    """One temporary folder per run (process), removed when it ends."""
    global _CACHE
    if _CACHE is None:
        _CACHE = Path(tempfile.mkdtemp(prefix="sparrow-pieces-"))
        atexit.register(shutil.rmtree, _CACHE, True)
    return _CACHE


_CACHE: Path | None = None


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        raw = w.readframes(w.getnframes())
        channels, width = w.getnchannels(), w.getsampwidth()
    dtype = {2: np.int16, 4: np.int32}[width]
    y = np.frombuffer(raw, dtype=dtype).astype(np.float32) / float(np.iinfo(dtype).max)
    return y.reshape(-1, channels).mean(axis=1)


def render(piece: Piece, sample_rate: int = 22050, cache: Path | None = None) -> np.ndarray:
    """The piece's sound, mono float32 at `sample_rate`, `duration_s` long: fluidsynth
    on the GM soundfont for MIDI pieces (cached by content in a temporary folder)."""
    n = int(piece.duration_s * sample_rate)
    if piece.sound == "silence":
        return np.zeros(n, np.float32)
    if piece.sound == "noise":
        rng = np.random.default_rng([piece.seed, 99])
        return (0.1 * rng.standard_normal(n)).astype(np.float32)
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise RuntimeError("rendering pieces needs Debian's fluidsynth and fluid-soundfont-gm (make tools)")
    folder = cache or _cache_dir()
    mid = midi_file(piece)
    digest = hashlib.sha1(
        repr((piece.notes, sorted(piece.programs.items()), sample_rate)).encode()
    ).hexdigest()[:16]
    wav = folder / f"{digest}.wav"
    if not wav.exists():
        source = folder / f"{digest}.mid"
        mid.save(str(source))
        partial = folder / f"{digest}.part.wav"
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-q",
                "-g",
                "0.6",
                "-r",
                str(sample_rate),
                "-T",
                "wav",
                "-F",
                str(partial),
                str(SOUNDFONT),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        partial.rename(wav)
    y = _read_wav(wav)[:n]
    if len(y) < n:
        y = np.r_[y, np.zeros(n - len(y), np.float32)]
    return y.astype(np.float32)
