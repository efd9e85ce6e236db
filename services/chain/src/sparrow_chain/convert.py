"""Domain objects to and from sparrow.v1 messages."""

from __future__ import annotations

from dataclasses import replace

from sparrow.v1 import analysis_pb2, chain_pb2, common_pb2

from sparrow_chain.domain import (
    MIX,
    AnalysisStatus,
    Chain,
    ClipAnalysis,
    Event,
    EventKind,
    Grid,
    GridCorrection,
    History,
    Move,
    Melody,
    Node,
    NodeAnalysis,
    NodeStatus,
    Preset,
    Recipe,
    Rejoin,
    SeamReport,
    StemSet,
    StoredAudio,
    TakeLimits,
    Usage,
)
from sparrow_common.convert import knobs_from_pb, knobs_to_pb
from sparrow_common.ids import parse_id


def _status_pb(status: NodeStatus) -> int:
    return chain_pb2.NodeStatus.Value(f"NODE_STATUS_{status.name}")


def _kind_pb(kind: EventKind) -> int:
    return chain_pb2.EventKind.Value(f"EVENT_KIND_{kind.name}")


def audio_to_pb(audio: StoredAudio) -> common_pb2.AudioInfo:
    return common_pb2.AudioInfo(
        format=audio.format,
        content_type=audio.content_type,
        sample_rate=audio.sample_rate,
        channels=audio.channels,
        duration_s=audio.duration_s,
        size_bytes=audio.size_bytes,
    )


def melody_from_pb(request: chain_pb2.CreateTakesRequest) -> Melody | None:
    """The melody a takes request names, or None when it names none."""
    if not request.HasField("melody"):
        return None
    return Melody(parse_id(request.melody.node_id, "melody node id"), request.melody.stem or None)


_ALIGN = {chain_pb2.ALIGN_SECONDS: "seconds", chain_pb2.ALIGN_BARS: "bars"}


def recipe_from_pb(request: chain_pb2.CreateTakesRequest) -> Recipe:
    """The takes' knobs with how the chain is to place their prompt and what of
    the path it sends; unset: the defaults (seconds, the mix)."""
    return Recipe(
        **vars(knobs_from_pb(request.knobs)),
        align=_ALIGN.get(request.align, "seconds"),
        prompt_source=request.prompt_source or MIX,
    )


def limits_from_pb(request: chain_pb2.CreateTakesRequest) -> TakeLimits:
    """The caller's limits the gateway sent (none when unset); negative is no limit too."""
    if not request.HasField("limits"):
        return TakeLimits()
    return TakeLimits(max(request.limits.max_waiting, 0), max(request.limits.per_day, 0))


def usage_to_pb(usage: Usage) -> chain_pb2.GetUsageResponse:
    return chain_pb2.GetUsageResponse(
        takes_waiting=usage.takes_waiting, takes_today=usage.takes_today, day_resets_in_s=usage.day_resets_in_s
    )


def preset_to_pb(preset: Preset) -> chain_pb2.Preset:
    msg = chain_pb2.Preset(name=preset.name, knobs=knobs_to_pb(preset.knobs))
    msg.update_time.FromDatetime(preset.updated_at)
    return msg


def node_to_pb(node: Node) -> chain_pb2.Node:
    msg = chain_pb2.Node(
        id=node.id,
        chain_id=node.chain_id,
        parent_id=node.parent_id or "",
        status=_status_pb(node.status),
        committed=node.committed,
        error_message=node.error_message,
        progress=node.progress,
        filename=node.filename,
        eta_s=node.eta_s or 0.0,
        note=node.note,
    )
    if node.melody is not None:
        msg.melody.CopyFrom(chain_pb2.Melody(node_id=node.melody.node_id, stem=node.melody.stem or ""))
    if node.recipe is not None:
        msg.knobs.CopyFrom(knobs_to_pb(node.recipe.knobs))
        msg.align = next(number for number, word in _ALIGN.items() if word == node.recipe.align)
        msg.prompt_source = node.recipe.prompt_source
    if node.audio is not None:
        msg.audio.CopyFrom(audio_to_pb(node.audio))
    if node.analysis is not None:
        msg.analysis.CopyFrom(analysis_to_pb(node.analysis))
    if node.from_s is not None:
        msg.from_s = node.from_s
    if node.out_s is not None:
        msg.out_s = node.out_s
    if node.until_s is not None:
        msg.until_s = node.until_s
    if node.in_s is not None:
        msg.in_s = node.in_s
    if node.until_node_id is not None:
        msg.until_node_id = node.until_node_id
    if node.binned_at is not None:
        msg.bin_time.FromDatetime(node.binned_at)
    if node.grid_correction is not None:
        msg.grid_correction.CopyFrom(correction_to_pb(node.grid_correction))
    grid = node.grid
    if grid is not None:
        msg.grid.CopyFrom(grid_to_pb(grid))
    msg.create_time.FromDatetime(node.created_at)
    msg.update_time.FromDatetime(node.updated_at)
    return msg


def correction_to_pb(correction: GridCorrection) -> chain_pb2.GridCorrection:
    msg = chain_pb2.GridCorrection(time_signature=correction.time_signature, key=correction.key)
    if correction.tempo_bpm is not None:
        msg.tempo_bpm = correction.tempo_bpm
    if correction.bar_one_s is not None:
        msg.bar_one_s = correction.bar_one_s
    return msg


def correction_from_pb(msg: chain_pb2.GridCorrection) -> GridCorrection:
    return GridCorrection(
        tempo_bpm=msg.tempo_bpm if msg.HasField("tempo_bpm") else None,
        time_signature=msg.time_signature,
        bar_one_s=msg.bar_one_s if msg.HasField("bar_one_s") else None,
        key=msg.key,
    )


def grid_to_pb(grid: Grid) -> chain_pb2.Grid:
    msg = chain_pb2.Grid(
        beats_s=grid.beats_s, downbeats_s=grid.downbeats_s, meter=grid.meter,
        time_signature=grid.time_signature, key=grid.key, corrected=grid.corrected,
    )
    if grid.tempo_bpm is not None:
        msg.tempo_bpm = grid.tempo_bpm
    return msg


def move_to_pb(move: Move | None) -> chain_pb2.Move | None:
    if move is None:
        return None
    return chain_pb2.Move(kind=chain_pb2.MoveKind.Value(f"MOVE_KIND_{move.kind.name}"), node_id=move.node_id)


def history_to_pb(history: History) -> chain_pb2.History:
    return chain_pb2.History(undo=move_to_pb(history.undo), redo=move_to_pb(history.redo), seq=history.seq)


_ANALYSIS_STATUS = {
    AnalysisStatus.PENDING: chain_pb2.ANALYSIS_STATUS_PENDING,
    AnalysisStatus.ANALYZING: chain_pb2.ANALYSIS_STATUS_ANALYZING,
    AnalysisStatus.READY: chain_pb2.ANALYSIS_STATUS_READY,
    AnalysisStatus.ERROR: chain_pb2.ANALYSIS_STATUS_ERROR,
}


def _optional(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


def _message(value, kind):
    """`value` (a ClipAnalysis or SeamReport) as its message `kind`, field by
    field of the same name; None leaves an optional field unset."""
    msg = kind()
    for name, field_value in vars(value).items():
        if isinstance(field_value, tuple):
            getattr(msg, name).extend(field_value)
        elif field_value is not None:
            setattr(msg, name, field_value)
    return msg


def clip_from_pb(msg: analysis_pb2.ClipAnalysis) -> ClipAnalysis:
    return ClipAnalysis(
        duration_s=msg.duration_s, tempo_bpm=_optional(msg, "tempo_bpm"), tempo_confidence=msg.tempo_confidence,
        beats_s=tuple(msg.beats_s), downbeats_s=tuple(msg.downbeats_s), meter=msg.meter,
        time_signature=msg.time_signature, key=msg.key, key_confidence=msg.key_confidence,
        key_runner_up=msg.key_runner_up, loudness_lufs=_optional(msg, "loudness_lufs"),
        peak_dbfs=_optional(msg, "peak_dbfs"),
    )


def seam_from_pb(msg: analysis_pb2.SeamReport) -> SeamReport:
    return SeamReport(
        score=msg.score, tempo_change_pct=_optional(msg, "tempo_change_pct"),
        beat_offset_ms=_optional(msg, "beat_offset_ms"), key_match=msg.key_match,
        loudness_step_db=_optional(msg, "loudness_step_db"), spectral_jump_db=msg.spectral_jump_db,
        fades_out=msg.fades_out, silent_start=msg.silent_start, notes=tuple(msg.notes), weakest=msg.weakest,
        unjudged=msg.unjudged,
    )


def heard_from_pb(done: analysis_pb2.AnalyzeDone, offset_s: float = 0.0) -> NodeAnalysis:
    """What the analysis worker heard, ready: the clip, and the seam and the
    rejoin when it reported them (the rejoin carried onto the parent's
    seconds: the part audio sent began `offset_s` into the parent, and the
    take's first sample was at its start)."""
    seam = seam_from_pb(done.seam) if done.HasField("seam") else None
    rejoin = None
    if done.HasField("rejoin"):
        heard = done.rejoin
        rejoin = Rejoin(
            at_s=round(heard.at_s + offset_s, 6), take_s=heard.at_s, crossfade_s=heard.crossfade_s, score=heard.score,
            harmony=heard.harmony, level_step_db=heard.level_step_db, spectral_jump_db=heard.spectral_jump_db,
            beat_offset_ms=heard.beat_offset_ms, on=heard.on, notes=tuple(heard.notes), weakest=heard.weakest,
            unjudged=heard.unjudged,
        )
    return NodeAnalysis(AnalysisStatus.READY, clip_from_pb(done.analysis), seam, rejoin=rejoin)


def analysis_to_pb(analysis: NodeAnalysis) -> chain_pb2.NodeAnalysis:
    msg = chain_pb2.NodeAnalysis(status=_ANALYSIS_STATUS[analysis.status], error_message=analysis.error_message)
    if analysis.clip is not None:
        msg.clip.CopyFrom(_message(analysis.clip, analysis_pb2.ClipAnalysis))
    if analysis.seam is not None:
        msg.seam.CopyFrom(_message(analysis.seam, analysis_pb2.SeamReport))
    if analysis.rejoin is not None:
        msg.rejoin.CopyFrom(_message(replace(analysis.rejoin, take_s=None), analysis_pb2.Rejoin))
    return msg


def chain_to_pb(chain: Chain) -> chain_pb2.Chain:
    msg = chain_pb2.Chain(
        id=chain.id,
        title=chain.title,
        owner_id=chain.owner_id,
        root_node_id=chain.root_node_id,
        node_count=chain.node_count,
        spine_duration_s=chain.spine_duration_s,
    )
    msg.create_time.FromDatetime(chain.created_at)
    return msg


def event_to_pb(event: Event) -> chain_pb2.ChainEvent:
    msg = chain_pb2.ChainEvent(
        seq=event.seq,
        chain_id=event.chain_id,
        kind=_kind_pb(event.kind),
        node_id=event.node_id or "",
    )
    if event.node is not None:
        msg.node.CopyFrom(node_to_pb(event.node))
    if event.stems is not None:
        msg.stems.CopyFrom(stems_to_pb(event.node_id or "", event.stems))
    if event.history is not None:
        msg.history.CopyFrom(history_to_pb(event.history))
    if event.title is not None:
        msg.title = event.title
    msg.create_time.FromDatetime(event.created_at)
    return msg


def stems_to_pb(node_id: str, stems: StemSet) -> chain_pb2.StemSet:
    return chain_pb2.StemSet(
        node_id=node_id,
        status=chain_pb2.StemsStatus.Value(f"STEMS_STATUS_{stems.status.name}"),
        progress=stems.progress,
        error_message=stems.error_message,
        stems=[chain_pb2.Stem(name=name, audio=audio_to_pb(audio)) for name, audio in stems.files.items()],
        model=stems.model,
    )
