"""Chains, nodes and events as plain data, and the rules on generation parameters.
No gRPC and no SQL here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from sparrow_common.errors import InvalidArgument


class NodeStatus(StrEnum):
    PENDING = "pending"
    GENERATING = "generating"
    READY = "ready"
    ERROR = "error"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    CHAIN_CREATED = "chain.created"
    NODE_CREATED = "node.created"
    NODE_UPDATED = "node.updated"
    NODE_COMMITTED = "node.committed"
    NODE_DISCARDED = "node.discarded"
    STEMS_UPDATED = "stems.updated"
    CHAIN_DELETED = "chain.deleted"


ENERGIES = ("low", "medium", "high")
TEMPO_FEELS = ("slower", "same", "faster")
DENSITIES = ("sparse", "medium", "dense")
MAX_TAKES = 8


@dataclass(frozen=True)
class GenerationParams:
    """What shapes a generated take. Ranges are checked by `validated`."""

    prompt: str = ""
    energy: str = "medium"
    tempo_feel: str = "same"
    density: str = "medium"
    cfg_coef: float = 3.0
    prompt_duration_s: float = 5.0
    duration_s: float = 10.0
    seed: int | None = None
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0

    def validated(self) -> GenerationParams:
        """Return self, or raise InvalidArgument naming the first value out of range."""
        _check(len(self.prompt) <= 1000, "prompt is longer than 1000 characters")
        _check(self.energy in ENERGIES, f"energy must be one of {', '.join(ENERGIES)}")
        _check(self.tempo_feel in TEMPO_FEELS, f"tempo_feel must be one of {', '.join(TEMPO_FEELS)}")
        _check(self.density in DENSITIES, f"density must be one of {', '.join(DENSITIES)}")
        _check(1.0 <= self.cfg_coef <= 10.0, "cfg_coef must be between 1 and 10")
        _check(1.0 <= self.prompt_duration_s <= 30.0, "prompt_duration_s must be between 1 and 30 seconds")
        _check(1.0 <= self.duration_s <= 120.0, "duration_s must be between 1 and 120 seconds")
        _check(self.seed is None or 0 <= self.seed < 2**63, "seed must be between 0 and 2^63-1")
        _check(0 <= self.top_k <= 2048, "top_k must be between 0 and 2048")
        _check(0.0 <= self.top_p <= 1.0, "top_p must be between 0 and 1")
        _check(0.05 <= self.temperature <= 5.0, "temperature must be between 0.05 and 5")
        return self

    def with_seed(self, seed: int) -> GenerationParams:
        return replace(self, seed=seed)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidArgument(message)


@dataclass(frozen=True)
class StoredAudio:
    """A blob and what decoding it found."""

    key: str
    format: str
    content_type: str
    sample_rate: int
    channels: int
    duration_s: float
    size_bytes: int


@dataclass(frozen=True)
class Node:
    id: str
    chain_id: str
    parent_id: str | None
    status: NodeStatus
    committed: bool
    params: GenerationParams | None
    audio: StoredAudio | None
    error_message: str
    progress: float
    filename: str
    created_at: datetime
    updated_at: datetime

    @property
    def is_root(self) -> bool:
        return self.parent_id is None


@dataclass(frozen=True)
class Chain:
    id: str
    title: str
    owner_id: str
    root_node_id: str
    created_at: datetime
    node_count: int = 0
    spine_duration_s: float = 0.0


@dataclass(frozen=True)
class Event:
    """One entry of a chain's event log; `seq` rises by one per chain."""

    seq: int
    chain_id: str
    kind: EventKind
    node_id: str | None
    node: Node | None
    created_at: datetime
    extra: dict = field(default_factory=dict)
