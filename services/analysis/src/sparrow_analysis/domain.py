"""What the analysis worker hears in a clip, at a take's seam, and where a
replacing take gives way to the part again. No gRPC, no librosa."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Analysis:
    """One clip: its pulse, bars, key and level. `tempo_bpm` is None when the
    clip has no steady beat (then there are no beats or bars either), never a
    made-up number; `key` is None when no key stands out."""

    tempo_bpm: float | None
    beats_s: list[float] = field(default_factory=list)
    downbeats_s: list[float] = field(default_factory=list)
    # Beats to the bar (2, 3 or 4; in 6/8 and 12/8 the beat is the dotted quarter);
    # None without a steady beat.
    meter: int | None = None
    # "2/4", "3/4", "4/4", "6/8" or "12/8"; None without a steady beat.
    time_signature: str | None = None
    # How steady and clear the pulse is, 0 to 1 (0 without one).
    tempo_confidence: float = 0.0
    # "A minor", "Eb major"...
    key: str | None = None
    # How well the key's profiles fit the clip, 0 to 1.
    key_confidence: float = 0.0
    # The key that fits next best.
    key_runner_up: str | None = None
    # Integrated loudness (EBU R128); None for silence.
    loudness_lufs: float | None = None
    peak_dbfs: float | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class SeamReport:
    """How a take continues the path it follows, at the seam (engine/seam.py
    says how each figure is measured and how the score weighs them)."""

    # The take's tempo against the path's, in percent (after folding double or half).
    tempo_change_pct: float | None
    # Where the take's beats fall against the path's beat grid carried on, in ms.
    beat_offset_ms: float | None
    # "same", "relative" (A minor after C major), "other", or None when a key is unknown.
    key_match: str | None
    # The take's first seconds against the path's last, in loudness units (dB).
    loudness_step_db: float | None
    # How far the take's first 100 ms are from the path's last 100 ms in spectrum, in dB.
    spectral_jump_db: float
    fades_out: bool
    silent_start: bool
    # 0 (a bad seam) to 1 (seamless), combining the above.
    score: float
    # The reasons, in words, worst first.
    notes: list[str] = field(default_factory=list)
    # What took the most off the score, in words; None when nothing did.
    weakest: str | None = None
    # Why the figures say too little to judge the seam, in words; None when judged.
    unjudged: str | None = None


@dataclass(frozen=True)
class PathGrid:
    """The grid of the path a take continues, as the chain uses it (what was heard
    in it, with the musician's corrections): the seam measures the take's tempo,
    beats and key against it instead of what the worker hears in the path.
    `beats_s` are on the clock of the path audio the engine is given."""

    tempo_bpm: float | None
    beats_s: list[float] = field(default_factory=list)
    key: str | None = None

    def shifted(self, seconds: float) -> PathGrid:
        """The same grid on a clock that starts `seconds` later."""
        return PathGrid(self.tempo_bpm, [t - seconds for t in self.beats_s], self.key)


@dataclass(frozen=True)
class RejoinAsked:
    """Where a take that replaces a stretch of a part should give way to the
    part again, and the part's grid to choose the point on: all on the clock of
    the part audio the engine is given (the take's first sample at 0)."""

    asked_s: float
    downbeats_s: list[float] = field(default_factory=list)
    beats_s: list[float] = field(default_factory=list)
    # None when the part has no tempo.
    tempo_bpm: float | None = None


@dataclass(frozen=True)
class RejoinReport:
    """Where the part comes back after a take that replaces a stretch of it, and
    how well (engine/rejoin.py says how each figure is measured and weighed)."""

    # On the clock of the part audio given (the take's first sample at 0).
    at_s: float
    # The equal-power crossfade's length, centred on at_s.
    crossfade_s: float
    # 0 (a bad join) to 1 (seamless).
    score: float
    # Cosine of the take's and the part's pitch classes there (1: the same chord).
    harmony: float
    # The part's level against the take's there, in dB (positive: it comes back louder).
    level_step_db: float
    # The mean difference of their mel band levels there, in dB.
    spectral_jump_db: float
    # Where the take's onsets fall against the part's there, in ms (positive: late).
    beat_offset_ms: float
    # "downbeat", "beat" or "time": the grid the point was chosen on.
    on: str
    # The reasons, in words.
    notes: list[str] = field(default_factory=list)
    # What took the most off the score, in words; None when nothing did.
    weakest: str | None = None
    # Why no point could be judged, in words; None when one was.
    unjudged: str | None = None
