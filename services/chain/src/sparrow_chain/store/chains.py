"""ChainStore: every query on chains, nodes, jobs and the event log.

Each method is one transaction. Methods that change a chain first lock its row
(SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serializes all
writers), so concurrent commits, discards and event appends of one chain happen
one after another and the event log's sequence numbers commit in order.
Methods return the blob keys they orphaned; the caller deletes those blobs
after the transaction has committed.
"""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import timedelta

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from sparrow_chain.domain import (
    BEGINNING_NOTE,
    MAX_TAKES,
    Chain,
    Event,
    EventKind,
    Melody,
    Node,
    NodeStatus,
    Recipe,
    StoredAudio,
    TakeLimits,
    Usage,
    check_stem_name,
    root_note,
)
from sparrow_chain.store.convert import (
    audio_columns,
    chain_from_row,
    history_from_json,
    melody_columns,
    node_from_json,
    stems_from_json,
    node_from_row,
    utc,
)
from sparrow_chain.store import limits as take_limits
from sparrow_chain.store.base import now as _now
from sparrow_chain.store.takes import TAKES, ready_stem
from sparrow_chain.store.moves import Moves
from sparrow_chain.store.presets import Presets
from sparrow_chain.store.tables import chains, events, jobs, moves, nodes, stem_files
from sparrow_chain.stretches import check_intro, check_stretch, to_intro, to_stretch
from sparrow_common.errors import Conflict, InvalidArgument
from sparrow_common.ids import new_id


# What the spine plays of a part: from its in point to its out point.
_HEARD = func.coalesce(nodes.c.out_s, nodes.c.duration_s) - func.coalesce(nodes.c.in_s, 0.0)
# Nodes in the chain, not in its bin.
_IN_CHAIN = nodes.c.binned_at.is_(None)
MAX_TITLE_CHARS = 200
# A take asked to continue from this close to its parent's end continues from the end.
FROM_END_SLACK_S = 0.01


def checked_title(title: str) -> str:
    """`title` trimmed, when it can name a chain (1 to 200 characters);
    InvalidArgument saying why not."""
    title = title.strip()
    if not title:
        raise InvalidArgument("a chain's title can't be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidArgument(f"a chain's title is at most {MAX_TITLE_CHARS} characters; this one is {len(title)}")
    return title


class ChainStore(Moves, Presets):
    """Chains and nodes, and the moves on them (store/moves.py). Thread-safe:
    call it from worker threads."""

    def _chain(self, conn: Connection, row) -> Chain:
        root_id, count, spine_s = conn.execute(
            select(
                func.max(case((nodes.c.parent_id.is_(None), nodes.c.id))),
                func.count(nodes.c.id),
                func.sum(case((nodes.c.committed, _HEARD), else_=0.0)),
            ).where(nodes.c.chain_id == row.id, _IN_CHAIN)
        ).one()
        return chain_from_row(row, root_id, count, spine_s)

    # -- chains ---------------------------------------------------------------

    def create_chain(
        self, owner: str, chain_id: str, root_id: str, title: str, filename: str, audio: StoredAudio,
        from_words: bool = False,
    ) -> tuple[Chain, Node]:
        """Write a chain and its root node (ready, committed) in one transaction;
        InvalidArgument for a clip too short to continue (domain.root_note).
        `from_words`: the root is the beginning (domain.BEGINNING_NOTE), with no
        audio to hear, so no analysis is asked."""
        note = BEGINNING_NOTE if from_words else root_note(audio.duration_s)
        now = _now()
        with self._write() as conn:
            conn.execute(
                insert(chains).values(id=chain_id, title=title, owner_id=owner, created_at=now, event_seq=0)
            )
            conn.execute(
                insert(nodes).values(
                    id=root_id,
                    chain_id=chain_id,
                    parent_id=None,
                    status=NodeStatus.READY.value,
                    committed=True,
                    params=None,
                    error_message="",
                    progress=1.0,
                    filename=filename,
                    note=note,
                    created_at=now,
                    updated_at=now,
                    **audio_columns(audio),
                    **({} if from_words else self._analysis_asked(conn, chain_id, root_id)),
                )
            )
            root = self._node(conn, root_id)
            self._append_event(conn, chain_id, EventKind.CHAIN_CREATED, root)
            return self._chain(conn, self._chain_row(conn, owner, chain_id)), root

    def get_chain(self, owner: str, chain_id: str) -> tuple[Chain, list[Node]]:
        """The chain and every node in it, oldest first."""
        with self._read() as conn:
            row = self._chain_row(conn, owner, chain_id)
            rows = conn.execute(
                select(nodes).where(nodes.c.chain_id == chain_id, _IN_CHAIN).order_by(nodes.c.created_at, nodes.c.id)
            ).all()
            node_list = [node_from_row(r) for r in rows]
            root = next(n.id for n in node_list if n.is_root)
            spine_s = sum(n.heard_s for n in node_list if n.committed)
            return chain_from_row(row, root, len(node_list), spine_s), node_list

    def list_chains(self, owner: str, limit: int, offset: int) -> list[Chain]:
        """The owner's chains, newest first."""
        stats = (
            select(
                nodes.c.chain_id,
                func.max(case((nodes.c.parent_id.is_(None), nodes.c.id))).label("root_id"),
                func.count(nodes.c.id).label("node_count"),
                func.sum(case((nodes.c.committed, _HEARD), else_=0.0)).label("spine_s"),
            )
            .where(_IN_CHAIN)
            .group_by(nodes.c.chain_id)
            .subquery()
        )
        with self._read() as conn:
            rows = conn.execute(
                select(chains, stats.c.root_id, stats.c.node_count, stats.c.spine_s)
                .join(stats, stats.c.chain_id == chains.c.id)
                .where(chains.c.owner_id == owner)
                .order_by(chains.c.created_at.desc(), chains.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [chain_from_row(r, r.root_id, r.node_count, r.spine_s) for r in rows]

    def delete_chain(self, owner: str, chain_id: str) -> list[str]:
        """Delete the chain with its nodes, jobs, events and moves; returns the
        blob keys its nodes held (the caller deletes those nothing else holds:
        a fork shares its parts' audio)."""
        with self._write() as conn:
            self._chain_row(conn, owner, chain_id, lock=True)
            keys = conn.execute(
                select(nodes.c.audio_key).where(nodes.c.chain_id == chain_id, nodes.c.audio_key.is_not(None))
            ).scalars().all()
            conn.execute(delete(moves).where(moves.c.chain_id == chain_id))
            # Children before parents is not needed: the FK cascades, but be explicit
            # so SQLite without foreign keys enforced would not leave orphans either.
            conn.execute(delete(events).where(events.c.chain_id == chain_id))
            conn.execute(update(nodes).where(nodes.c.chain_id == chain_id).values(job_id=None))
            conn.execute(delete(jobs).where(jobs.c.chain_id == chain_id))
            conn.execute(delete(nodes).where(nodes.c.chain_id == chain_id, nodes.c.parent_id.is_not(None)))
            conn.execute(delete(nodes).where(nodes.c.chain_id == chain_id))
            conn.execute(delete(chains).where(chains.c.id == chain_id))
            return list(keys)

    def rename(self, owner: str, chain_id: str, title: str) -> Chain:
        """Give the chain a new title (1 to 200 characters, spaces around it trimmed)."""
        title = checked_title(title)
        with self._write() as conn:
            self._chain_row(conn, owner, chain_id, lock=True)
            conn.execute(update(chains).where(chains.c.id == chain_id).values(title=title))
            self._append_event(conn, chain_id, EventKind.CHAIN_RENAMED, title=title)
            return self._chain(conn, self._chain_row(conn, owner, chain_id))

    def fork(self, owner: str, node_id: str, chain_id: str, title: str | None = None) -> tuple[Chain, list[Node]]:
        """A new chain `chain_id` of the same owner whose spine is this chain's
        spine up to `node_id` (a node of the spine): the same parts, out points
        and analyses, sharing their audio (no bytes copied). Titled `title`, or
        the chain's own with "(fork)"."""
        if title is not None:
            title = checked_title(title)
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            if not row.committed or row.binned_at is not None:
                raise Conflict("Only a part of the spine can start a fork; commit this take first.")
            source = self._chain_row(conn, owner, row.chain_id)
            path = self._spine_rows(conn, row.chain_id)
            path = path[: [r.id for r in path].index(row.id) + 1]
            moment = _now()
            title = title or f"{source.title[: MAX_TITLE_CHARS - 7]} (fork)"
            conn.execute(insert(chains).values(id=chain_id, title=title, owner_id=owner, created_at=moment, event_seq=0))
            copies: list[Node] = []
            parent_id = None
            for index, part in enumerate(path):
                values = {c.name: getattr(part, c.name) for c in nodes.columns}
                copy_id = new_id()
                values.update(
                    id=copy_id, chain_id=chain_id, parent_id=parent_id, job_id=None, committed=True,
                    # The fork's tip plays to its end: the spine it was cut from went on.
                    out_s=part.out_s if index < len(path) - 1 else None,
                    binned_at=None, bin_top=None, binned_by=None,
                    created_at=moment + timedelta(microseconds=index), updated_at=moment,
                )
                conn.execute(insert(nodes).values(**values))
                copies.append(self._node(conn, copy_id))
                parent_id = copy_id
            self._append_event(conn, chain_id, EventKind.CHAIN_CREATED, copies[0])
            for copy in copies[1:]:
                self._append_event(conn, chain_id, EventKind.NODE_COMMITTED, copy)
            return self._chain(conn, self._chain_row(conn, owner, chain_id)), copies

    def unheld(self, keys: list[str]) -> list[str]:
        """Of these blob keys, those no node and no stem refers to any more."""
        if not keys:
            return []
        with self._read() as conn:
            held = set(conn.execute(select(nodes.c.audio_key).where(nodes.c.audio_key.in_(keys))).scalars())
            held |= set(conn.execute(select(stem_files.c.audio_key).where(stem_files.c.audio_key.in_(keys))).scalars())
        return [key for key in dict.fromkeys(keys) if key not in held]

    def chain_seq(self, owner: str, chain_id: str) -> int | None:
        """The chain's last event number, or None when the chain is gone."""
        with self._read() as conn:
            return conn.execute(
                select(chains.c.event_seq).where(chains.c.id == chain_id, chains.c.owner_id == owner)
            ).scalar()

    # -- nodes ----------------------------------------------------------------

    def get_node(self, owner: str, node_id: str) -> Node:
        with self._read() as conn:
            return node_from_row(self._node_row(conn, owner, node_id))

    def usage(self, owner: str) -> Usage:
        """The user's takes waiting or being made, and those asked today (UTC)."""
        with self._read() as conn:
            return take_limits.usage_of(conn, owner, _now())

    def spine(self, owner: str, chain_id: str) -> list[Node]:
        """The committed path from the root, root first, read with one recursive CTE."""
        with self._read() as conn:
            self._chain_row(conn, owner, chain_id)
            return [node_from_row(r) for r in self._spine_rows(conn, chain_id)]

    @staticmethod
    def _spine_rows(conn: Connection, chain_id: str) -> list:
        path = (
            select(nodes.c.id, literal(0, Integer).label("depth"))
            .where(nodes.c.chain_id == chain_id, nodes.c.parent_id.is_(None))
            .cte("spine", recursive=True)
        )
        path = path.union_all(
            select(nodes.c.id, (path.c.depth + 1).label("depth")).join(
                path, and_(nodes.c.parent_id == path.c.id, nodes.c.committed)
            )
        )
        return conn.execute(select(nodes).join(path, path.c.id == nodes.c.id).order_by(path.c.depth)).all()

    def create_takes(
        self,
        owner: str,
        parent_id: str,
        recipe: Recipe,
        count: int,
        melody: Melody | None = None,
        limits: TakeLimits = TakeLimits(),
        from_s: float | None = None,
        until_s: float | None = None,
        intro: bool = False,
        until_node_id: str | None = None,
    ) -> list[Node]:
        """`count` pending sibling nodes under the parent, with distinct seeds, and
        one queued generation job that makes them as a batch; conditioned on
        `melody` when given (a ready node of the same chain, or its ready stem);
        continuing from `from_s` seconds into the parent's audio when given (its
        end otherwise); with `until_s` too, replacing the stretch between
        (stretches.py: they run past it, for the parent to come back near
        `until_s`, in `until_node_id` when that is a later part of the spine);
        with `intro`, leading into the parent, the root, from its start
        (stretches.py). OverLimit when they would take `owner` past `limits`."""
        if from_s is not None and not (math.isfinite(from_s) and from_s > 0):
            raise InvalidArgument("from_s must be a time inside the parent's audio, in seconds above 0")
        if (until_s is not None or intro) and recipe.align == "bars":
            raise InvalidArgument('a replaced stretch sets its takes\' length: ask for them with align "seconds"')
        recipe.validated()
        if not 1 <= count <= MAX_TAKES:
            raise InvalidArgument(f"count must be between 1 and {MAX_TAKES} takes")
        # A random seed stays below 2**53, so a browser's JSON numbers hold it
        # exactly and the musician can ask for the same take again.
        first = recipe.seed if recipe.seed is not None else random.randrange(2**53 - MAX_TAKES)
        seeds = [(first + i) % 2**63 for i in range(count)]
        now = _now()
        with self._write() as conn:
            parent = self._locked_node(conn, owner, parent_id)
            if parent.binned_at is not None:
                raise Conflict("The parent is in the bin: restore it first.")
            if parent.audio_key is None:
                raise Conflict("Parent node has no audio yet.")
            if from_s is not None and from_s >= parent.duration_s - FROM_END_SLACK_S:
                raise InvalidArgument(
                    f"from_s must be inside the parent's audio: {from_s:g} s is not before its end at "
                    f"{parent.duration_s:.2f} s (leave it out to continue from the end)"
                )
            if from_s is not None and parent.in_s is not None and from_s <= parent.in_s:
                raise InvalidArgument(
                    f"from_s must be where the part plays: it starts at {parent.in_s:.2f} s of its audio"
                )
            note = ""
            if intro:
                heard = node_from_row(parent)
                check_intro(heard, from_s, until_s)
                # It plays the length asked before the clip comes in: from the parent's start.
                from_s, until_s = 0.0, recipe.duration_s
                stretched = to_intro(recipe, heard)
                recipe, note = stretched.recipe, stretched.note
            elif until_s is not None:
                parts = [node_from_row(parent)]
                if until_node_id is not None:
                    path = self._between(conn, parent.id, until_node_id)
                    if path is None or not all(row.committed and row.binned_at is None for row in path):
                        raise InvalidArgument(
                            "until_node_id must be a part of the spine after the parent (the parent on the spine too)"
                        )
                    parts = [node_from_row(row) for row in path]
                seconds = check_stretch(parts, from_s, until_s)
                stretched = to_stretch(recipe, parts[-1], from_s, until_s, seconds, len(parts))
                recipe, note = stretched.recipe, stretched.note
            elif until_node_id is not None:
                raise InvalidArgument("until_node_id needs until_s: where in that part the stretch ends")
            if melody is not None:
                self._check_melody(conn, parent.chain_id, melody)
            take_limits.take(conn, owner, count, limits, now)
            # Takes on the bar line wait for their parent's first hearing: its grid places them.
            after = self._first_hearing(conn, parent.id) if recipe.align == "bars" else []
            job_id = self._queue_job(conn, parent.chain_id, TAKES, after=after)
            created = []
            for index, seed in enumerate(seeds):
                node_id = new_id()
                conn.execute(
                    insert(nodes).values(
                        id=node_id,
                        chain_id=parent.chain_id,
                        parent_id=parent.id,
                        job_id=job_id,
                        status=NodeStatus.PENDING.value,
                        committed=False,
                        params=dataclasses.asdict(recipe.with_seed(seed)),
                        error_message="",
                        progress=0.0,
                        filename="",
                        # Takes keep the order they were asked in.
                        created_at=now + timedelta(microseconds=index),
                        updated_at=now,
                        **audio_columns(None),
                        **melody_columns(melody),
                        from_s=from_s,
                        until_s=until_s,
                        until_node_id=until_node_id,
                        note=note,
                    )
                )
                node = self._node(conn, node_id)
                self._append_event(conn, parent.chain_id, EventKind.NODE_CREATED, node)
                created.append(node)
            return created

    def _check_melody(self, conn: Connection, chain_id: str, melody: Melody) -> None:
        """Refuse a melody that can't be heard: a node of another chain (or none),
        one without audio yet, or a stem that is not ready."""
        if melody.stem is not None:
            check_stem_name(melody.stem, "the melody's stem")
        row = conn.execute(
            select(nodes.c.status, nodes.c.audio_sha256).where(
                nodes.c.id == melody.node_id, nodes.c.chain_id == chain_id
            )
        ).first()
        if row is None:
            raise InvalidArgument(f"the melody must come from a node of this chain; node {melody.node_id} is not one")
        if row.status != NodeStatus.READY.value:
            raise Conflict(f"The melody's node {melody.node_id} has no audio yet (it is {row.status}).")
        if melody.stem is None:
            return
        if ready_stem(conn, row.audio_sha256, melody.stem) is None:
            raise Conflict(
                f"The {melody.stem} stem of node {melody.node_id} is not ready: split the node into stems first."
            )

    def finish_node(self, node_id: str, audio: StoredAudio) -> Node | None:
        """Give a generated node its audio and make it ready (None if it was discarded)."""
        with self._write() as conn:
            return self._set_node(
                conn, node_id, status=NodeStatus.READY.value, progress=1.0, eta_s=None, error_message="",
                **audio_columns(audio),
            )

    def fail_node(self, node_id: str, message: str) -> Node | None:
        """Mark a node failed with a readable reason (None if it was discarded)."""
        with self._write() as conn:
            return self._set_node(conn, node_id, status=NodeStatus.ERROR.value, eta_s=None, error_message=message)

    # -- events and housekeeping ---------------------------------------------

    def events_after(self, chain_id: str, after_seq: int, limit: int = 500) -> list[Event]:
        """Events of a chain with seq > after_seq, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(events)
                .where(events.c.chain_id == chain_id, events.c.seq > after_seq)
                .order_by(events.c.seq)
                .limit(limit)
            ).all()
        return [
            Event(
                seq=r.seq,
                chain_id=r.chain_id,
                kind=EventKind(r.kind),
                node_id=r.node_id,
                node=node_from_json(r.payload["node"]) if r.payload.get("node") else None,
                created_at=utc(r.created_at),
                stems=stems_from_json(r.payload["stems"]) if r.payload.get("stems") else None,
                history=history_from_json(r.payload["history"], r.seq) if r.payload.get("history") else None,
                title=r.payload.get("title"),
            )
            for r in rows
        ]

    def audio_keys(self) -> set[str]:
        """Every blob key a node or a stem refers to (for sweeping orphaned blobs)."""
        with self._read() as conn:
            keys = set(conn.execute(select(nodes.c.audio_key).where(nodes.c.audio_key.is_not(None))).scalars())
            return keys | set(conn.execute(select(stem_files.c.audio_key)).scalars())
