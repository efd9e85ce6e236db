"""Chains, nodes and events as plain data, and a take's recipe (the knobs the
model hears, with what the chain works out before it asks). No gRPC, no SQL.

Words, one meaning each, as the editor says them and the code names them:

- **chain**: one song being written, a tree of nodes from one root.
- **node**: one clip in a chain and what made it (its recipe, its parent, where
  it starts in its parent). Stores only its own new audio, never its parent's.
- **root**: the chain's first node, the musician's upload; always committed.
- **take**: a node the model wrote, continuing its parent; takes asked for
  together are siblings the musician auditions side by side.
- **part**: a node of the spine, as the spine plays it (from its in point to
  its out point).
- **spine**: the committed path from the root, one part after another; what
  export renders. Committing a take makes it the spine's next part.
- **out point** (`out_s`): where a part stops playing, the `from_s` of its
  committed child; None plays it whole. **in point** (`in_s`): where a part
  starts playing in its own audio; None from its first sample.
- **stretch**: the seconds `from_s` to `until_s` of a part a take replaces:
  the take continues the part from `from_s`, and the part **rejoins** near
  `until_s` (analysis.rejoin: on a downbeat where they sound most alike,
  under a crossfade about a beat long centred there).
- **intro**: a take that leads into the root (its `from_s` 0): written from
  the words before the clip, `until_s` seconds long before the clip comes in
  at its first downbeat; committed, the root plays nothing (out point 0) and
  the rest of it follows the intro.
- **the rest** of a part: once such a take is committed, a part of its own
  after the take, sharing the replaced part's audio (no bytes copied) from its
  in point, the rejoin, to the part's old out point, with the spine's next
  part after it.
- **from here** (`from_s`): the second of the parent a take continues from;
  None continues from its end.
- **Hear** (`prompt_source`): what of the music so far the model hears, the
  mix or one stem alone; "heard" is also what the analysis found in a clip
  (its grid, key, seam), its correction being the musician's word.
- **grid**: tempo, beats, bars, meter and key of a part (grid.py).
- **bin**: where discarded nodes wait, restorable, before their audio goes.
- **listening**: hearing audio (the analysis worker's Listener, the grid and
  seams it hears). PostgreSQL's LISTEN/NOTIFY, how replicas learn of each
  other's writes, is *notices* (notices.py), never "listen".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sparrow_chain.grid import Grid, GridCorrection, grid_of
from sparrow_chain.heard import AnalysisStatus, ClipAnalysis, NodeAnalysis, Rejoin, SeamReport
from sparrow_common.errors import InvalidArgument
from sparrow_common.params import KNOBS, MAX_TAKES, MIX, Knobs, check_stem_name

__all__ = [
    "MAX_TAKES", "MIX", "AnalysisStatus", "ClipAnalysis", "Grid", "GridCorrection", "Knobs", "NodeAnalysis",
    "Rejoin", "SeamReport", "check_stem_name",
]

# How a take's prompt is placed: as asked in seconds, or on the bar line.
ALIGNS = ("seconds", "bars")


@dataclass(frozen=True)
class Recipe(Knobs):
    """How the chain makes a take: the knobs the model hears, and what the
    chain works out from them before it asks the worker, which no worker
    receives (with the take's `from_s` and `melody`, kept on the node)."""

    # "bars": the prompt starts on a downbeat of the path and the take lasts
    # whole bars at the parent's tempo (bars.py, from the parent's grid, or
    # kept to seconds with the reason in the take's note).
    align: str = "seconds"
    # What the model hears of the path: "mix", or one stem's name (the chain
    # sends that stem of the path, split first when it has no stems yet).
    prompt_source: str = MIX

    @property
    def knobs(self) -> Knobs:
        """What the model hears of it."""
        return Knobs(**{name: getattr(self, name) for name in KNOBS})

    def validated(self) -> Recipe:
        """Self, or InvalidArgument naming the first value out of range."""
        super().validated()
        if self.align not in ALIGNS:
            raise InvalidArgument(f"align must be one of {', '.join(ALIGNS)}")
        if self.prompt_source != MIX:
            check_stem_name(self.prompt_source, 'prompt_source ("mix" or a stem)')
        return self



@dataclass(frozen=True)
class Preset:
    """A user's named knobs, to ask for takes with again on any chain."""

    name: str
    knobs: Knobs
    updated_at: datetime


# The shortest clip a chain can start from: a blip gives the model nothing to continue.
MIN_CLIP_S = 1.0


# What the root of a chain started from words says of itself: it has no audio.
BEGINNING_NOTE = "the beginning: takes start from the words alone"


def root_note(duration_s: float) -> str:
    """What a root of `duration_s` seconds says of itself in words ("" when
    nothing needs saying); InvalidArgument for a clip shorter than MIN_CLIP_S.
    A clip shorter than the prompt takes hear by default is taken whole."""
    # Hundredths: a one-second clip some encoders pad or trim by a few samples is one second.
    if round(duration_s, 2) < MIN_CLIP_S:
        raise InvalidArgument(
            f"the clip is {duration_s:.2f} s long, and a chain starts from at least {MIN_CLIP_S:g} s of audio "
            "(a blip gives the model nothing to continue)"
        )
    usual = Knobs().prompt_duration_s
    if duration_s < usual:
        return f"a {duration_s:.1f} s clip: takes will hear all of it, less than the {usual:g} s they usually hear"
    return ""


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
    # A tip taken off the spine: it is a take again.
    NODE_UNCOMMITTED = "node.uncommitted"
    # Back from the bin.
    NODE_RESTORED = "node.restored"
    CHAIN_RENAMED = "chain.renamed"
    # What undo and redo would do next changed; written in the move's transaction.
    HISTORY_CHANGED = "history.changed"


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
class TakeLimits:
    """How many takes a user may have (their tier's); 0 is no limit."""

    max_waiting: int = 0  # waiting or being generated at once
    per_day: int = 0  # asked per day, UTC


@dataclass(frozen=True)
class Usage:
    """A user's takes against those limits."""

    takes_waiting: int
    takes_today: int
    day_resets_in_s: int


@dataclass(frozen=True)
class Melody:
    """A melody whose chroma steers a take: a ready node of the same chain, its
    mix (`stem` None) or one of its ready stems."""

    node_id: str
    stem: str | None = None


@dataclass(frozen=True)
class Node:
    id: str
    chain_id: str
    parent_id: str | None
    status: NodeStatus
    committed: bool
    # How it was made; None for the root.
    recipe: Recipe | None
    audio: StoredAudio | None
    error_message: str
    progress: float
    filename: str
    created_at: datetime
    updated_at: datetime
    # Seconds generating should still take, from the worker's pace; None when
    # unknown, and once the node is ready or failed.
    eta_s: float | None = None
    melody: Melody | None = None
    # None until its audio is stored and analysis is on (CHAIN_ANALYSIS_ADDR).
    analysis: NodeAnalysis | None = None
    # How it was made, in words, when not quite as asked (align: bars).
    note: str = ""
    # For a take: the second of its parent's audio it continues from; None for
    # the parent's end.
    from_s: float | None = None
    # For a part of the spine: where it stops (its committed child's from_s);
    # None for the whole clip.
    out_s: float | None = None
    # When it went to the chain's bin; None for a node in the chain.
    binned_at: datetime | None = None
    # The musician's word on its grid; None for as heard.
    grid_correction: GridCorrection | None = None
    # For a take that replaces a stretch of its parent (from from_s): where the
    # parent should come back, as asked.
    until_s: float | None = None
    # When the stretch runs on into a later part of the spine: that part
    # (until_s is in its audio); None: the parent.
    until_node_id: str | None = None
    # For a part: where it starts playing in its own audio (None: its first
    # sample), and the crossfade centred there with the part before (the rest
    # of a part after a replaced stretch).
    in_s: float | None = None
    in_fade_s: float | None = None

    @property
    def replaces(self) -> bool:
        """Whether it is a take that replaces a stretch of its parent (or leads into it)."""
        return self.until_s is not None

    @property
    def is_intro(self) -> bool:
        """Whether it is an intro: a take that leads into its parent (from_s 0),
        for `until_s` seconds before the parent comes in at its first downbeat."""
        return self.from_s == 0.0 and self.until_s is not None

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def grid(self) -> Grid | None:
        """The grid everything uses: what was heard in its audio with the
        musician's correction over it (grid.py); None when there is neither.
        While it is heard again (after its parent's grid changed) the clip
        heard before stands."""
        if self.audio is None:
            return None
        clip = self.analysis.clip if self.analysis is not None else None
        return grid_of(clip, self.grid_correction, self.audio.duration_s)

    @property
    def heard_s(self) -> float:
        """Seconds of it the spine plays: from its in point to its out point."""
        if self.audio is None:
            return 0.0
        return self.end_s - (self.in_s or 0.0)

    @property
    def end_s(self) -> float:
        """Where it stops playing in its own audio: its out point, or its end."""
        if self.audio is None:
            return 0.0
        return self.out_s if self.out_s is not None else self.audio.duration_s


class MoveKind(StrEnum):
    """A musician's move on a chain, for undo and redo."""

    COMMIT = "commit"
    UNCOMMIT = "uncommit"
    DISCARD = "discard"
    RESTORE = "restore"
    # A part's grid corrected: undone by its correction before, redone by the one after.
    REGRID = "regrid"

    @property
    def undone_by(self) -> MoveKind:
        return {
            MoveKind.COMMIT: MoveKind.UNCOMMIT, MoveKind.UNCOMMIT: MoveKind.COMMIT,
            MoveKind.DISCARD: MoveKind.RESTORE, MoveKind.RESTORE: MoveKind.DISCARD,
            MoveKind.REGRID: MoveKind.REGRID,
        }[self]


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    node_id: str


@dataclass(frozen=True)
class History:
    """What undo and redo would do next on a chain; None for nothing."""

    undo: Move | None = None
    redo: Move | None = None
    # The chain's event seq when it was so (its history.changed event's): the
    # largest tells, whichever of a reply or an event comes first.
    seq: int = 0


@dataclass(frozen=True)
class Chain:
    id: str
    title: str
    owner_id: str
    root_node_id: str
    created_at: datetime
    node_count: int = 0
    spine_duration_s: float = 0.0


class StemsStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    SEPARATING = "separating"
    READY = "ready"
    ERROR = "error"


@dataclass(frozen=True)
class StemSet:
    """The stems of one piece of audio (by content) by one model, shared by
    every node holding it."""

    content_hash: str
    status: StemsStatus
    progress: float = 0.0
    error_message: str = ""
    # stem name -> its audio once ready, in the model's order
    files: dict[str, StoredAudio] = field(default_factory=dict)
    # The model that splits it (a set per audio and model).
    model: str = ""


@dataclass(frozen=True)
class Event:
    """One entry of a chain's event log; `seq` rises by one per chain."""

    seq: int
    chain_id: str
    kind: EventKind
    node_id: str | None
    node: Node | None
    created_at: datetime
    stems: StemSet | None = None
    history: History | None = None
    # For chain.renamed: the new title.
    title: str | None = None
