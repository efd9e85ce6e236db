"""sparrow.v1 messages to the REST API's bodies."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC
from typing import TypeVar

from sparrow.v1 import chain_pb2

from sparrow_common.convert import knobs_from_pb
from sparrow_common.params import MIX
from sparrow_gateway import schemas

ChainSchema = TypeVar("ChainSchema", bound=schemas.Chain)


def _status(value: int) -> str:
    return chain_pb2.NodeStatus.Name(value).removeprefix("NODE_STATUS_").lower()


def event_kind(value: int) -> str:
    """EVENT_KIND_NODE_UPDATED -> node.updated"""
    name = chain_pb2.EventKind.Name(value).removeprefix("EVENT_KIND_").lower()
    head, _, tail = name.partition("_")
    return f"{head}.{tail}"


def audio(msg) -> schemas.Audio:
    return schemas.Audio(
        format=msg.format,
        content_type=msg.content_type,
        sample_rate=msg.sample_rate,
        channels=msg.channels,
        duration_s=msg.duration_s,
        size_bytes=msg.size_bytes,
    )


def stems(msg: chain_pb2.StemSet) -> schemas.StemSet:
    asked = f"?model={msg.model}" if msg.model else ""
    return schemas.StemSet(
        node_id=msg.node_id,
        model=msg.model,
        status=chain_pb2.StemsStatus.Name(msg.status).removeprefix("STEMS_STATUS_").lower(),
        progress=msg.progress,
        error_msg=msg.error_message or None,
        stems=[
            schemas.Stem(
                name=s.name, audio=audio(s.audio),
                audio_url=f"/api/nodes/{msg.node_id}/stems/{s.name}/audio{asked}",
            )
            for s in msg.stems
        ],
    )


def node(msg: chain_pb2.Node) -> schemas.Node:
    stored = audio(msg.audio) if msg.HasField("audio") else None
    params = None
    if msg.HasField("knobs"):
        params = schemas.Params(
            **asdict(knobs_from_pb(msg.knobs)), align=align(msg.align), prompt_source=msg.prompt_source or MIX
        )
    return schemas.Node(
        id=msg.id,
        chain_id=msg.chain_id,
        parent_id=msg.parent_id or None,
        status=_status(msg.status),
        committed=msg.committed,
        progress=msg.progress,
        error_msg=msg.error_message or None,
        filename=msg.filename or None,
        params=params,
        audio=stored,
        duration_s=stored.duration_s if stored else None,
        audio_url=f"/api/nodes/{msg.id}/audio" if stored else None,
        eta_s=msg.eta_s or None,
        melody=schemas.Melody(node_id=msg.melody.node_id, stem=msg.melody.stem or None)
        if msg.HasField("melody")
        else None,
        analysis=analysis(msg.analysis) if msg.HasField("analysis") else None,
        note=msg.note or None,
        from_s=msg.from_s if msg.HasField("from_s") else None,
        out_s=msg.out_s if msg.HasField("out_s") else None,
        until_s=msg.until_s if msg.HasField("until_s") else None,
        in_s=msg.in_s if msg.HasField("in_s") else None,
        intro=msg.HasField("from_s") and msg.from_s == 0.0 and msg.HasField("until_s"),
        until_node_id=msg.until_node_id or None,
        binned_at=msg.bin_time.ToDatetime(tzinfo=UTC) if msg.HasField("bin_time") else None,
        grid=grid(msg.grid) if msg.HasField("grid") else None,
        grid_correction=grid_correction(msg.grid_correction) if msg.HasField("grid_correction") else None,
        created_at=msg.create_time.ToDatetime(tzinfo=UTC),
        updated_at=msg.update_time.ToDatetime(tzinfo=UTC),
    )


def moved(reply) -> schemas.Moved:
    """A move's reply (CommitNode, UncommitNode, RestoreNode): the node, with the history."""
    return schemas.Moved(**dict(node(reply.node)), history=history(reply.history))


def align(value: int) -> str:
    """ALIGN_BARS -> bars; unset is seconds, as the chain takes it."""
    return chain_pb2.Align.Name(value or chain_pb2.ALIGN_SECONDS).removeprefix("ALIGN_").lower()


def align_to_pb(word: str) -> int:
    return chain_pb2.Align.Value(f"ALIGN_{word.upper()}")


def grid(msg: chain_pb2.Grid) -> schemas.Grid:
    return schemas.Grid(
        tempo_bpm=_optional(msg, "tempo_bpm"), beats_s=list(msg.beats_s), downbeats_s=list(msg.downbeats_s),
        meter=msg.meter or None, time_signature=msg.time_signature or None, key=msg.key or None,
        corrected=list(msg.corrected),
    )


def grid_correction(msg: chain_pb2.GridCorrection) -> schemas.GridCorrection:
    return schemas.GridCorrection(
        tempo_bpm=_optional(msg, "tempo_bpm"), time_signature=msg.time_signature or None,
        bar_one_s=_optional(msg, "bar_one_s"), key=msg.key or None,
    )


def grid_correction_to_pb(body: schemas.GridRequest) -> chain_pb2.GridCorrection:
    """The musician's correction as the chain service takes it (unset: as heard)."""
    msg = chain_pb2.GridCorrection(time_signature=body.time_signature or "", key=body.key or "")
    if body.tempo_bpm is not None:
        msg.tempo_bpm = body.tempo_bpm
    if body.bar_one_s is not None:
        msg.bar_one_s = body.bar_one_s
    return msg


def move(msg: chain_pb2.Move) -> schemas.Move:
    return schemas.Move(kind=chain_pb2.MoveKind.Name(msg.kind).removeprefix("MOVE_KIND_").lower(), node_id=msg.node_id)


def history(msg: chain_pb2.History) -> schemas.History:
    return schemas.History(
        undo=move(msg.undo) if msg.HasField("undo") else None,
        redo=move(msg.redo) if msg.HasField("redo") else None,
        seq=msg.seq,
    )


_ANALYSIS_STATUS = {
    chain_pb2.ANALYSIS_STATUS_PENDING: "pending",
    chain_pb2.ANALYSIS_STATUS_ANALYZING: "analyzing",
    chain_pb2.ANALYSIS_STATUS_READY: "ready",
    chain_pb2.ANALYSIS_STATUS_ERROR: "error",
}


def _optional(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


def analysis(msg: chain_pb2.NodeAnalysis) -> schemas.NodeAnalysis:
    heard = {}
    if msg.HasField("clip"):
        c = msg.clip
        heard = dict(
            tempo_bpm=_optional(c, "tempo_bpm"), tempo_confidence=c.tempo_confidence, beats_s=list(c.beats_s),
            downbeats_s=list(c.downbeats_s), meter=c.meter or None, time_signature=c.time_signature or None,
            key=c.key or None, key_confidence=c.key_confidence, key_runner_up=c.key_runner_up or None,
            loudness_lufs=_optional(c, "loudness_lufs"), peak_dbfs=_optional(c, "peak_dbfs"),
        )
    seam = None
    if msg.HasField("seam"):
        r = msg.seam
        seam = schemas.SeamReport(
            tempo_change_pct=_optional(r, "tempo_change_pct"), beat_offset_ms=_optional(r, "beat_offset_ms"),
            key_match=r.key_match or None, loudness_step_db=_optional(r, "loudness_step_db"),
            spectral_jump_db=r.spectral_jump_db, fades_out=r.fades_out, silent_start=r.silent_start,
            score=r.score, notes=list(r.notes), weakest=r.weakest or None, unjudged=r.unjudged or None,
        )
    rejoin = None
    if msg.HasField("rejoin"):
        r = msg.rejoin
        rejoin = schemas.Rejoin(
            at_s=r.at_s, crossfade_s=r.crossfade_s, score=r.score, harmony=r.harmony, level_step_db=r.level_step_db,
            spectral_jump_db=r.spectral_jump_db, beat_offset_ms=r.beat_offset_ms, on=r.on or "time",
            notes=list(r.notes), weakest=r.weakest or None, unjudged=r.unjudged or None,
        )
    return schemas.NodeAnalysis(
        status=_ANALYSIS_STATUS.get(msg.status, "pending"), seam=seam, rejoin=rejoin,
        error_msg=msg.error_message or None, **heard,
    )


def chain(msg: chain_pb2.Chain, kind: type[ChainSchema], **more) -> ChainSchema:
    """The chain as `kind` (Chain, ChainWithNodes, ChainCreated), with `more` of its fields."""
    return kind(
        id=msg.id,
        title=msg.title,
        root_node_id=msg.root_node_id,
        node_count=msg.node_count,
        spine_duration_s=msg.spine_duration_s,
        created_at=msg.create_time.ToDatetime(tzinfo=UTC),
        **more,
    )


def usage(msg: chain_pb2.GetUsageResponse) -> schemas.Usage:
    return schemas.Usage(
        takes_waiting=msg.takes_waiting, takes_today=msg.takes_today, day_resets_in_s=msg.day_resets_in_s
    )


def event(msg: chain_pb2.ChainEvent) -> schemas.Event:
    converted = node(msg.node) if msg.HasField("node") else None
    return schemas.Event(
        seq=msg.seq,
        kind=event_kind(msg.kind),
        chain_id=msg.chain_id,
        node_id=msg.node_id or None,
        status=converted.status if converted else None,
        node=converted,
        stems=stems(msg.stems) if msg.HasField("stems") else None,
        history=history(msg.history) if msg.HasField("history") else None,
        title=msg.title or None,
        created_at=msg.create_time.ToDatetime(tzinfo=UTC),
    )


def preset(msg: chain_pb2.Preset) -> schemas.Preset:
    return schemas.Preset(
        name=msg.name, knobs=schemas.KnobsUsed(**asdict(knobs_from_pb(msg.knobs))),
        updated_at=msg.update_time.ToDatetime(tzinfo=UTC),
    )
