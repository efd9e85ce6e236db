"""What the analysis worker heard in a node's audio, as the chain keeps it: the
clip's figures, and for a take its seam (analysis.proto's ClipAnalysis and
SeamReport, converted in convert.py), with the store's JSON of each. The grid
(grid.py) is read from the clip; no gRPC and no SQL here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class AnalysisStatus(StrEnum):
    PENDING = "pending"
    ANALYZING = "analyzing"
    READY = "ready"
    ERROR = "error"


@dataclass(frozen=True)
class ClipAnalysis:
    """What the analysis worker heard in a clip (analysis.proto's ClipAnalysis)."""

    duration_s: float = 0.0
    # None when the clip has no steady beat (then no beats, bars or meter).
    tempo_bpm: float | None = None
    # 0 to 1: how steady and clear the pulse is; 0 without one.
    tempo_confidence: float = 0.0
    beats_s: tuple[float, ...] = ()
    downbeats_s: tuple[float, ...] = ()
    # Beats to the bar; 0 without a steady beat.
    meter: int = 0
    # "2/4" ... "12/8"; "" without a steady beat.
    time_signature: str = ""
    # "A minor"; "" when no key stands out.
    key: str = ""
    key_confidence: float = 0.0
    key_runner_up: str = ""
    # None for silence.
    loudness_lufs: float | None = None
    peak_dbfs: float | None = None

    def to_json(self) -> dict:
        return {**asdict(self), "beats_s": list(self.beats_s), "downbeats_s": list(self.downbeats_s)}

    @classmethod
    def from_json(cls, data: dict) -> ClipAnalysis:
        """As stored; what an older Sparrow stored as None (or left out) for
        "nothing heard" reads as the empty value."""
        return cls(
            duration_s=data.get("duration_s") or 0.0,
            tempo_bpm=data.get("tempo_bpm"),
            tempo_confidence=data.get("tempo_confidence") or 0.0,
            beats_s=tuple(data.get("beats_s") or ()),
            downbeats_s=tuple(data.get("downbeats_s") or ()),
            meter=data.get("meter") or 0,
            time_signature=data.get("time_signature") or "",
            key=data.get("key") or "",
            key_confidence=data.get("key_confidence") or 0.0,
            key_runner_up=data.get("key_runner_up") or "",
            loudness_lufs=data.get("loudness_lufs"),
            peak_dbfs=data.get("peak_dbfs"),
        )


@dataclass(frozen=True)
class SeamReport:
    """How a take continues the path before it (analysis.proto's SeamReport)."""

    # 0 (a bad seam) to 1 (seamless).
    score: float = 0.0
    tempo_change_pct: float | None = None
    beat_offset_ms: float | None = None
    # "same", "relative", "other"; "" when a key is unknown.
    key_match: str = ""
    loudness_step_db: float | None = None
    spectral_jump_db: float = 0.0
    fades_out: bool = False
    silent_start: bool = False
    # The reasons, in words.
    notes: tuple[str, ...] = ()
    # What took the most off the score, in words; "" when nothing did.
    weakest: str = ""
    # Why the figures say too little to judge the seam; "" when they judge it.
    unjudged: str = ""

    def to_json(self) -> dict:
        return {**asdict(self), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: dict) -> SeamReport:
        return cls(
            score=data.get("score") or 0.0,
            tempo_change_pct=data.get("tempo_change_pct"),
            beat_offset_ms=data.get("beat_offset_ms"),
            key_match=data.get("key_match") or "",
            loudness_step_db=data.get("loudness_step_db"),
            spectral_jump_db=data.get("spectral_jump_db") or 0.0,
            fades_out=bool(data.get("fades_out")),
            silent_start=bool(data.get("silent_start")),
            notes=tuple(data.get("notes") or ()),
            weakest=data.get("weakest") or "",
            unjudged=data.get("unjudged") or "",
        )


@dataclass(frozen=True)
class Rejoin:
    """Where a take that replaces a stretch gives way to its parent again, and
    how well (analysis.proto's Rejoin), in the parent's seconds."""

    at_s: float
    # Centred on at_s.
    crossfade_s: float = 0.1
    # 0 (a bad join) to 1 (seamless).
    score: float = 0.0
    harmony: float = 0.0
    level_step_db: float = 0.0
    spectral_jump_db: float = 0.0
    beat_offset_ms: float = 0.0
    # "downbeat", "beat" or "time": what the point was chosen on.
    on: str = "time"
    notes: tuple[str, ...] = ()
    weakest: str = ""
    # Why no point could be judged; "" when it was.
    unjudged: str = ""
    # Where in the take's own seconds it gives way (at_s less the take's from_s
    # when it replaces a stretch; an intro's length before the parent comes in).
    take_s: float | None = None

    def to_json(self) -> dict:
        return {**asdict(self), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: dict) -> Rejoin:
        return cls(**{**data, "notes": tuple(data.get("notes") or ())})


@dataclass(frozen=True)
class NodeAnalysis:
    """What the analysis worker heard in a node's audio (services/analysis):
    its clip, and for a take its seam. A clip heard before stays while the
    node is heard again (its parent's grid changed)."""

    status: AnalysisStatus
    clip: ClipAnalysis | None = None
    seam: SeamReport | None = None
    error_message: str = ""
    # For a take that replaces a stretch: its second join.
    rejoin: Rejoin | None = None

    @property
    def worse_join(self) -> float | None:
        """The score a take is ranked by: its seam's, or for a take that
        replaces a stretch the worse of its two joins; None until heard."""
        scores = [join.score for join in (self.seam, self.rejoin) if join is not None]
        return min(scores) if scores else None

    def to_json(self) -> dict:
        return {
            "status": self.status.value,
            "clip": self.clip.to_json() if self.clip is not None else None,
            "seam": self.seam.to_json() if self.seam is not None else None,
            "error_message": self.error_message,
            "rejoin": self.rejoin.to_json() if self.rejoin is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> NodeAnalysis | None:
        if not data:
            return None
        clip, seam = data.get("clip"), data.get("seam")
        return cls(
            AnalysisStatus(data["status"]),
            ClipAnalysis.from_json(clip) if clip is not None else None,
            SeamReport.from_json(seam) if seam is not None else None,
            data.get("error_message", ""),
            Rejoin.from_json(data["rejoin"]) if data.get("rejoin") else None,
        )
