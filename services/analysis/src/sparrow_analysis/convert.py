"""The analysis, the seam report, the path's grid and the rejoin to and from
protobuf (servicer and callers)."""

from __future__ import annotations

from sparrow.v1 import analysis_pb2

from sparrow_analysis.domain import Analysis, PathGrid, RejoinAsked, RejoinReport, SeamReport


def analysis_to_pb(a: Analysis) -> analysis_pb2.ClipAnalysis:
    out = analysis_pb2.ClipAnalysis(
        beats_s=a.beats_s,
        downbeats_s=a.downbeats_s,
        meter=a.meter or 0,
        key=a.key or "",
        key_confidence=a.key_confidence,
        duration_s=a.duration_s,
        tempo_confidence=a.tempo_confidence,
        time_signature=a.time_signature or "",
        key_runner_up=a.key_runner_up or "",
    )
    for name in ("tempo_bpm", "loudness_lufs", "peak_dbfs"):
        if getattr(a, name) is not None:
            setattr(out, name, getattr(a, name))
    return out


def seam_to_pb(r: SeamReport) -> analysis_pb2.SeamReport:
    out = analysis_pb2.SeamReport(
        key_match=r.key_match or "",
        spectral_jump_db=r.spectral_jump_db,
        fades_out=r.fades_out,
        silent_start=r.silent_start,
        score=r.score,
        notes=r.notes,
        weakest=r.weakest or "",
        unjudged=r.unjudged or "",
    )
    for name in ("tempo_change_pct", "beat_offset_ms", "loudness_step_db"):
        if getattr(r, name) is not None:
            setattr(out, name, float(getattr(r, name)))
    return out


def path_grid_from_pb(setup: analysis_pb2.AnalyzeSetup) -> PathGrid | None:
    """The setup's path grid (beats on the clock of the context as sent), or None when unset."""
    if not setup.HasField("path_grid"):
        return None
    grid = setup.path_grid
    return PathGrid(
        tempo_bpm=grid.tempo_bpm if grid.HasField("tempo_bpm") and grid.tempo_bpm > 0 else None,
        beats_s=list(grid.beats_s),
        key=grid.key or None,
    )


def rejoin_asked_from_pb(setup: analysis_pb2.AnalyzeSetup) -> RejoinAsked | None:
    """The setup's asked rejoin (on the clock of the part audio sent), or None when unset."""
    if not setup.HasField("rejoin"):
        return None
    asked = setup.rejoin
    return RejoinAsked(
        asked_s=asked.asked_s,
        downbeats_s=list(asked.downbeats_s),
        beats_s=list(asked.beats_s),
        tempo_bpm=asked.tempo_bpm if asked.HasField("tempo_bpm") and asked.tempo_bpm > 0 else None,
    )


def rejoin_to_pb(r: RejoinReport) -> analysis_pb2.Rejoin:
    return analysis_pb2.Rejoin(
        at_s=r.at_s,
        crossfade_s=r.crossfade_s,
        score=r.score,
        harmony=r.harmony,
        level_step_db=r.level_step_db,
        spectral_jump_db=r.spectral_jump_db,
        beat_offset_ms=r.beat_offset_ms,
        on=r.on,
        notes=r.notes,
        weakest=r.weakest or "",
        unjudged=r.unjudged or "",
    )
