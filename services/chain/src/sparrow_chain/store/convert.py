"""Rows to domain objects, and nodes to and from the JSON kept in the event log."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sparrow_chain.domain import (
    Chain,
    GridCorrection,
    History,
    Melody,
    Move,
    MoveKind,
    Node,
    NodeAnalysis,
    NodeStatus,
    Recipe,
    StemSet,
    StemsStatus,
    StoredAudio,
)


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_PARAM_NAMES = frozenset(f.name for f in dataclasses.fields(Recipe))


def recipe_from_json(data: dict | None) -> Recipe | None:
    """A take's recipe as stored (its knobs, align and prompt_source side by
    side); keys from a newer schema are ignored."""
    if data is None:
        return None
    return Recipe(**{k: v for k, v in data.items() if k in _PARAM_NAMES})


def node_from_row(row: Any) -> Node:
    audio = None
    if row.audio_key is not None:
        audio = StoredAudio(
            key=row.audio_key,
            format=row.audio_format,
            content_type=row.content_type,
            sample_rate=row.sample_rate,
            channels=row.channels,
            duration_s=row.duration_s,
            size_bytes=row.size_bytes,
        )
    return Node(
        id=row.id,
        chain_id=row.chain_id,
        parent_id=row.parent_id,
        status=NodeStatus(row.status),
        committed=bool(row.committed),
        recipe=recipe_from_json(row.params),
        audio=audio,
        error_message=row.error_message,
        progress=row.progress,
        filename=row.filename,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        eta_s=row.eta_s,
        melody=Melody(row.melody_node_id, row.melody_stem) if row.melody_node_id else None,
        analysis=NodeAnalysis.from_json(row.analysis),
        note=row.note or "",
        from_s=row.from_s,
        out_s=row.out_s,
        binned_at=utc(row.binned_at) if row.binned_at is not None else None,
        grid_correction=GridCorrection.from_json(row.grid_correction),
        until_s=row.until_s,
        until_node_id=row.until_node_id,
        in_s=row.in_s,
        in_fade_s=row.in_fade_s,
    )


def melody_columns(melody: Melody | None) -> dict[str, Any]:
    """The node columns that hold the melody a take was asked with."""
    return {
        "melody_node_id": melody.node_id if melody else None,
        "melody_stem": melody.stem if melody else None,
    }


def chain_from_row(row: Any, root_node_id: str, node_count: int, spine_duration_s: float) -> Chain:
    return Chain(
        id=row.id,
        title=row.title,
        owner_id=row.owner_id,
        root_node_id=root_node_id,
        created_at=utc(row.created_at),
        node_count=node_count,
        spine_duration_s=spine_duration_s or 0.0,
    )


def audio_columns(audio: StoredAudio | None) -> dict[str, Any]:
    """The node columns that hold `audio` (all None to clear it)."""
    return {
        "audio_key": audio.key if audio else None,
        "audio_format": audio.format if audio else None,
        "content_type": audio.content_type if audio else None,
        "sample_rate": audio.sample_rate if audio else None,
        "channels": audio.channels if audio else None,
        "duration_s": audio.duration_s if audio else None,
        "size_bytes": audio.size_bytes if audio else None,
    }


def node_to_json(node: Node) -> dict[str, Any]:
    data = dataclasses.asdict(node)
    data["status"] = node.status.value
    data["created_at"] = node.created_at.isoformat()
    data["updated_at"] = node.updated_at.isoformat()
    data["analysis"] = node.analysis.to_json() if node.analysis else None
    data["binned_at"] = node.binned_at.isoformat() if node.binned_at else None
    data["grid_correction"] = node.grid_correction.to_json() if node.grid_correction else None
    return data


def node_from_json(data: dict[str, Any]) -> Node:
    audio = data.get("audio")
    return Node(
        id=data["id"],
        chain_id=data["chain_id"],
        parent_id=data["parent_id"],
        status=NodeStatus(data["status"]),
        committed=data["committed"],
        # Logged before a node said `recipe`, it said `params`.
        recipe=recipe_from_json(data.get("recipe", data.get("params"))),
        audio=StoredAudio(**audio) if audio else None,
        error_message=data["error_message"],
        progress=data["progress"],
        filename=data["filename"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        # Events logged before these fields existed have neither.
        eta_s=data.get("eta_s"),
        melody=Melody(**data["melody"]) if data.get("melody") else None,
        analysis=NodeAnalysis.from_json(data.get("analysis")),
        note=data.get("note", ""),
        from_s=data.get("from_s"),
        out_s=data.get("out_s"),
        binned_at=datetime.fromisoformat(data["binned_at"]) if data.get("binned_at") else None,
        grid_correction=GridCorrection.from_json(data.get("grid_correction")),
        until_s=data.get("until_s"),
        until_node_id=data.get("until_node_id"),
        in_s=data.get("in_s"),
        in_fade_s=data.get("in_fade_s"),
    )


def stems_to_json(stems: StemSet) -> dict[str, Any]:
    return {
        "content_hash": stems.content_hash,
        "status": stems.status.value,
        "progress": stems.progress,
        "error_message": stems.error_message,
        "files": {name: dataclasses.asdict(audio) for name, audio in stems.files.items()},
        "model": stems.model,
    }


def stems_from_json(data: dict[str, Any]) -> StemSet:
    return StemSet(
        content_hash=data["content_hash"],
        status=StemsStatus(data["status"]),
        progress=data["progress"],
        error_message=data["error_message"],
        files={name: StoredAudio(**audio) for name, audio in data["files"].items()},
        model=data.get("model", ""),
    )


def history_to_json(history: History) -> dict[str, Any]:
    """What undo and redo would do, for a history event (its seq is the event's)."""
    return {
        way: {"kind": move.kind.value, "node_id": move.node_id} if move else None
        for way, move in (("undo", history.undo), ("redo", history.redo))
    }


def history_from_json(data: dict[str, Any], seq: int) -> History:
    undo, redo = (
        Move(MoveKind(data[way]["kind"]), data[way]["node_id"]) if data.get(way) else None for way in ("undo", "redo")
    )
    return History(undo=undo, redo=redo, seq=seq)
