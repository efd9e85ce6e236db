"""A part's grid: its tempo, beats, bars, meter and key, as everything uses it.

What the analysis worker heard in a part (its `clip`) is the grid until the
musician says otherwise; a correction wins field by field (`grid_of`, the one
place the grid is computed). Bars (`align: "bars"`), the seam reports, the
export's markers and the editor's ruler all read the result, never the clip.

How a correction moves the grid:
- a tempo regenerates the beats across the whole part, evenly, from an anchor:
  bar one when the musician set it, else the first downbeat heard, else the
  first beat heard, else 0 s;
- bar one alone does the same at the heard tempo: the beats (and bars) move to
  start there, the beats before it carried back as a pickup;
- a time signature recomputes the downbeats every `meter` beats from bar one
  (set or heard); 6/8 and 12/8 count the dotted quarter as the beat (meter 2
  and 4, and the tempo in dotted quarters), as the analysis worker does;
- a key replaces the key.
A musician's tempo gives a grid where nothing was heard (no analysis, or no
steady beat in it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from sparrow_chain.heard import ClipAnalysis
from sparrow_common.errors import InvalidArgument

# Beats to the bar of each time signature the grid knows.
METERS = {"2/4": 2, "3/4": 3, "4/4": 4, "6/8": 2, "12/8": 4}
TEMPO_RANGE = (20.0, 300.0)
# "A minor", "Eb major", "F# minor".
KEY = re.compile(r"[A-G][#b]? (major|minor)")
# What a Grid's `corrected` names, in this order.
FIELDS = ("tempo", "time_signature", "bar_one", "key")


@dataclass(frozen=True)
class GridCorrection:
    """What the musician says of a part's grid; each field unset (None, "") is as heard."""

    tempo_bpm: float | None = None
    time_signature: str = ""
    # Where bar one starts, seconds into the part.
    bar_one_s: float | None = None
    key: str = ""

    @property
    def empty(self) -> bool:
        return self == GridCorrection()

    def validated(self, length_s: float) -> GridCorrection:
        """Self, or InvalidArgument naming the first field out of bounds for a
        part of `length_s` seconds."""
        if self.tempo_bpm is not None:
            low, high = TEMPO_RANGE
            if not (math.isfinite(self.tempo_bpm) and low <= self.tempo_bpm <= high):
                raise InvalidArgument(f"tempo_bpm must be between {low:g} and {high:g} bpm")
        if self.time_signature and self.time_signature not in METERS:
            raise InvalidArgument(f"time_signature must be one of {', '.join(METERS)}")
        if self.bar_one_s is not None and not (math.isfinite(self.bar_one_s) and 0 <= self.bar_one_s <= length_s):
            raise InvalidArgument(f"bar_one_s must be within the part: 0 to {length_s:.2f} s")
        if self.key and not KEY.fullmatch(self.key):
            raise InvalidArgument('key must be a note and major or minor, as "A minor" or "Eb major"')
        return self

    @property
    def corrected(self) -> tuple[str, ...]:
        """Which of FIELDS it sets."""
        said = (self.tempo_bpm is not None, bool(self.time_signature), self.bar_one_s is not None, bool(self.key))
        return tuple(name for name, set_ in zip(FIELDS, said, strict=True) if set_)

    def to_json(self) -> dict | None:
        """As stored (None when it says nothing)."""
        if self.empty:
            return None
        return {"tempo_bpm": self.tempo_bpm, "time_signature": self.time_signature,
                "bar_one_s": self.bar_one_s, "key": self.key}

    @classmethod
    def from_json(cls, data: dict | None) -> GridCorrection | None:
        if not data:
            return None
        return cls(data.get("tempo_bpm"), data.get("time_signature") or "", data.get("bar_one_s"), data.get("key") or "")


@dataclass(frozen=True)
class Grid:
    """A part's grid as used: seconds into the part."""

    # None without a tempo (then no beats or bars either).
    tempo_bpm: float | None
    beats_s: tuple[float, ...] = ()
    downbeats_s: tuple[float, ...] = ()
    # Beats to the bar; 0 when unknown.
    meter: int = 0
    time_signature: str = ""
    key: str = ""
    # Which of FIELDS are the musician's.
    corrected: tuple[str, ...] = field(default_factory=tuple)

    @property
    def beat_s(self) -> float | None:
        """Seconds a beat lasts; None without a tempo."""
        return 60.0 / self.tempo_bpm if self.tempo_bpm else None

    @property
    def bar_s(self) -> float | None:
        """Seconds a bar lasts; None without a tempo (a tempo always comes with
        a meter: grid_of counts one alone in four)."""
        return self.meter * self.beat_s if self.tempo_bpm and self.meter else None

    def describe(self) -> str:
        """In words, for an export's markers: "120 bpm 4/4 · A minor"; "" when it knows nothing."""
        parts = []
        if self.tempo_bpm:
            pulse = f"{round(self.tempo_bpm, 1):g} bpm"
            parts.append(f"{pulse} {self.time_signature}" if self.time_signature else pulse)
        if self.key:
            parts.append(self.key)
        return " · ".join(parts)


def time_signature_of(meter: int | None) -> str:
    """The signature an analysis that names only its meter means (3 -> "3/4")."""
    return f"{meter}/4" if meter in (2, 3, 4) else ""


def _even(anchor: float, period: float, length_s: float) -> list[float]:
    """Every `period` from `anchor`, both ways, within [0, length_s)."""
    first = anchor - math.floor(anchor / period) * period
    count = max(int(math.ceil((length_s - first) / period)), 0)
    return [round(first + i * period, 6) for i in range(count) if first + i * period < length_s]


def _bars(beats: list[float], anchor: float, meter: int) -> list[float]:
    """Every `meter`-th beat, counted both ways from the beat nearest `anchor`."""
    if not beats or meter <= 0:
        return []
    one = min(range(len(beats)), key=lambda i: abs(beats[i] - anchor))
    return [beats[i] for i in range(one % meter, len(beats), meter)]


def grid_of(clip: ClipAnalysis | None, correction: GridCorrection | None, length_s: float) -> Grid | None:
    """The grid of a part `length_s` long from what was heard in it (`clip`, the
    analysis worker's figures; None when not heard) with the musician's
    `correction` over it; None when there is neither."""
    if clip is None and (correction is None or correction.empty):
        return None
    said = correction or GridCorrection()
    heard_tempo = (clip.tempo_bpm or None) if clip else None
    heard_beats = list(clip.beats_s) if clip else []
    heard_downbeats = list(clip.downbeats_s) if clip else []
    heard_meter = clip.meter if clip else 0
    heard_signature = (clip.time_signature if clip else "") or time_signature_of(heard_meter)
    heard_signature = heard_signature if heard_signature in METERS else ""
    signature = said.time_signature or heard_signature
    meter = METERS.get(signature) or heard_meter
    key = said.key or (clip.key if clip else "")
    tempo = said.tempo_bpm or heard_tempo
    if not tempo:
        return Grid(None, meter=meter, time_signature=signature, key=key, corrected=said.corrected)
    if not meter:
        # A pulse with no meter known (a tempo typed over silence): counted in four.
        signature, meter = "4/4", 4
    # Where bar one is: the musician's word, else the first downbeat (or beat) heard.
    anchor = said.bar_one_s
    if anchor is None:
        anchor = heard_downbeats[0] if heard_downbeats else heard_beats[0] if heard_beats else 0.0
    if said.tempo_bpm is not None or said.bar_one_s is not None or not heard_beats:
        beats = _even(anchor, 60.0 / tempo, length_s)
        downbeats = _bars(beats, anchor, meter)
    elif said.time_signature or not heard_downbeats:
        beats, downbeats = heard_beats, _bars(heard_beats, anchor, meter)
    else:
        beats, downbeats = heard_beats, heard_downbeats
    return Grid(round(tempo, 3), tuple(beats), tuple(downbeats), meter, signature, key, said.corrected)


@dataclass(frozen=True)
class PathGrid:
    """The grid of the path a take continues, on the clock of the context sent
    with it (seconds into the context), for its seam report."""

    tempo_bpm: float | None
    beats_s: tuple[float, ...]
    key: str


def path_grid(parts: list[tuple[Grid | None, float, float]], context_s: float) -> PathGrid | None:
    """The grid of the last `context_s` seconds of a path, given each part's grid
    and the stretch of its own seconds the path plays (start, end), oldest
    first; its tempo and key are the last part's (the one the take continues).
    None when the last part has no grid."""
    last = parts[-1][0] if parts else None
    if last is None:
        return None
    total = sum(end - start for _, start, end in parts)
    begin = max(total - context_s, 0.0)
    beats: list[float] = []
    offset = 0.0
    for grid, start, end in parts:
        if grid is not None:
            beats += [
                round(offset + b - start - begin, 6)
                for b in grid.beats_s
                if start <= b < end and offset + b - start >= begin
            ]
        offset += end - start
    return PathGrid(last.tempo_bpm, tuple(beats), last.key)
