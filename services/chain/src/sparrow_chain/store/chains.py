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
import random
from datetime import timedelta

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from sparrow_chain.domain import (
    MAX_TAKES,
    Chain,
    Event,
    EventKind,
    GenerationParams,
    Melody,
    Node,
    NodeStatus,
    StoredAudio,
    TakeLimits,
    Usage,
    check_stem_name,
)
from sparrow_chain.store.convert import (
    audio_columns,
    chain_from_row,
    melody_columns,
    node_from_json,
    stems_from_json,
    node_from_row,
    utc,
)
from sparrow_chain.store import limits as take_limits
from sparrow_chain.store.base import Store
from sparrow_chain.store.base import now as _now
from sparrow_chain.store.takes import GENERATE, ready_stem
from sparrow_chain.store.tables import chains, events, jobs, nodes, stem_files
from sparrow_common.errors import Conflict, InvalidArgument, NotFound
from sparrow_common.ids import new_id


@dataclasses.dataclass(frozen=True)
class Removed:
    """A node a commit or discard deleted, and the blob it leaves behind."""

    node_id: str
    audio_key: str | None


class ChainStore(Store):
    """Chains and nodes. Thread-safe: call it from worker threads."""

    # -- lookups --------------------------------------------------------------

    def _chain_row(self, conn: Connection, owner: str, chain_id: str, lock: bool = False):
        query = select(chains).where(chains.c.id == chain_id, chains.c.owner_id == owner)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"chain {chain_id} not found")
        return row

    def _node_row(self, conn: Connection, owner: str, node_id: str):
        row = conn.execute(
            select(nodes)
            .join(chains, chains.c.id == nodes.c.chain_id)
            .where(nodes.c.id == node_id, chains.c.owner_id == owner)
        ).first()
        if row is None:
            raise NotFound(f"node {node_id} not found")
        return row

    def _locked_node(self, conn: Connection, owner: str, node_id: str):
        """The node, re-read after locking its chain, so what we check is current."""
        row = self._node_row(conn, owner, node_id)
        self._chain_row(conn, owner, row.chain_id, lock=True)
        return self._node_row(conn, owner, node_id)

    def _chain(self, conn: Connection, row) -> Chain:
        root_id, count, spine_s = conn.execute(
            select(
                func.max(case((nodes.c.parent_id.is_(None), nodes.c.id))),
                func.count(nodes.c.id),
                func.sum(case((nodes.c.committed, nodes.c.duration_s), else_=0.0)),
            ).where(nodes.c.chain_id == row.id)
        ).one()
        return chain_from_row(row, root_id, count, spine_s)

    # -- chains ---------------------------------------------------------------

    def create_chain(
        self, owner: str, chain_id: str, root_id: str, title: str, filename: str, audio: StoredAudio
    ) -> tuple[Chain, Node]:
        """Write a chain and its root node (ready, committed) in one transaction."""
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
                    created_at=now,
                    updated_at=now,
                    **audio_columns(audio),
                    **self._analysis_asked(conn, chain_id, root_id),
                )
            )
            root = node_from_row(conn.execute(select(nodes).where(nodes.c.id == root_id)).one())
            self._append_event(conn, chain_id, EventKind.CHAIN_CREATED, root)
            return self._chain(conn, self._chain_row(conn, owner, chain_id)), root

    def get_chain(self, owner: str, chain_id: str) -> tuple[Chain, list[Node]]:
        """The chain and every node in it, oldest first."""
        with self._read() as conn:
            row = self._chain_row(conn, owner, chain_id)
            rows = conn.execute(
                select(nodes).where(nodes.c.chain_id == chain_id).order_by(nodes.c.created_at, nodes.c.id)
            ).all()
            node_list = [node_from_row(r) for r in rows]
            root = next(n.id for n in node_list if n.is_root)
            spine_s = sum(n.audio.duration_s for n in node_list if n.committed and n.audio)
            return chain_from_row(row, root, len(node_list), spine_s), node_list

    def list_chains(self, owner: str, limit: int, offset: int) -> list[Chain]:
        """The owner's chains, newest first."""
        stats = (
            select(
                nodes.c.chain_id,
                func.max(case((nodes.c.parent_id.is_(None), nodes.c.id))).label("root_id"),
                func.count(nodes.c.id).label("node_count"),
                func.sum(case((nodes.c.committed, nodes.c.duration_s), else_=0.0)).label("spine_s"),
            )
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

    def delete_chain(self, owner: str, chain_id: str) -> None:
        """Delete the chain with its nodes, jobs and events (the caller removes its blobs)."""
        with self._write() as conn:
            self._chain_row(conn, owner, chain_id, lock=True)
            # Children before parents is not needed: the FK cascades, but be explicit
            # so SQLite without foreign keys enforced would not leave orphans either.
            conn.execute(delete(events).where(events.c.chain_id == chain_id))
            conn.execute(update(nodes).where(nodes.c.chain_id == chain_id).values(job_id=None))
            conn.execute(delete(jobs).where(jobs.c.chain_id == chain_id))
            conn.execute(delete(nodes).where(nodes.c.chain_id == chain_id, nodes.c.parent_id.is_not(None)))
            conn.execute(delete(nodes).where(nodes.c.chain_id == chain_id))
            conn.execute(delete(chains).where(chains.c.id == chain_id))

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
        with self._read() as conn:
            self._chain_row(conn, owner, chain_id)
            rows = conn.execute(
                select(nodes).join(path, path.c.id == nodes.c.id).order_by(path.c.depth)
            ).all()
        return [node_from_row(r) for r in rows]

    def create_takes(
        self,
        owner: str,
        parent_id: str,
        params: GenerationParams,
        count: int,
        melody: Melody | None = None,
        limits: TakeLimits = TakeLimits(),
    ) -> list[Node]:
        """`count` pending sibling nodes under the parent, with distinct seeds, and
        one queued generation job that makes them as a batch; conditioned on
        `melody` when given (a ready node of the same chain, or its ready stem).
        OverLimit when they would take `owner` past `limits`."""
        params.validated()
        if not 1 <= count <= MAX_TAKES:
            raise InvalidArgument(f"count must be between 1 and {MAX_TAKES} takes")
        # A random seed stays below 2**53, so a browser's JSON numbers hold it
        # exactly and the musician can ask for the same take again.
        first = params.seed if params.seed is not None else random.randrange(2**53 - MAX_TAKES)
        seeds = [(first + i) % 2**63 for i in range(count)]
        now = _now()
        with self._write() as conn:
            parent = self._locked_node(conn, owner, parent_id)
            if parent.audio_key is None:
                raise Conflict("Parent node has no audio yet.")
            if melody is not None:
                self._check_melody(conn, parent.chain_id, melody)
            take_limits.take(conn, owner, count, limits, now)
            job_id = self._queue_job(conn, parent.chain_id, GENERATE)
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
                        params=dataclasses.asdict(params.with_seed(seed)),
                        error_message="",
                        progress=0.0,
                        filename="",
                        # Takes keep the order they were asked in.
                        created_at=now + timedelta(microseconds=index),
                        updated_at=now,
                        **audio_columns(None),
                        **melody_columns(melody),
                    )
                )
                node = node_from_row(conn.execute(select(nodes).where(nodes.c.id == node_id)).one())
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

    def commit(self, owner: str, node_id: str) -> tuple[Node, list[Removed]]:
        """Put a ready node on the spine and discard its uncommitted siblings.

        Committing is only possible at the spine's tip: the node's parent must be
        committed and must not already continue with another committed child.
        Committing a node already committed changes nothing."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            if row.committed:
                return node_from_row(row), []
            if row.status != NodeStatus.READY.value:
                raise Conflict(f"Only 'ready' nodes can be committed; this one is '{row.status}'.")
            parent = conn.execute(select(nodes).where(nodes.c.id == row.parent_id)).one()
            if not parent.committed:
                raise Conflict("This node's parent is not on the spine; commit the parent first.")
            other = conn.execute(
                select(nodes.c.id).where(nodes.c.parent_id == parent.id, nodes.c.committed)
            ).scalar()
            if other is not None:
                raise Conflict(
                    f"The spine already continues from this node's parent with node {other}; "
                    "committing this one too would fork it."
                )
            siblings = conn.execute(
                select(nodes.c.id).where(nodes.c.parent_id == parent.id, nodes.c.id != node_id)
            ).scalars().all()
            removed: list[Removed] = []
            for sibling in siblings:
                removed += self._delete_subtree(conn, row.chain_id, sibling)
            conn.execute(update(nodes).where(nodes.c.id == node_id).values(committed=True, updated_at=_now()))
            node = node_from_row(conn.execute(select(nodes).where(nodes.c.id == node_id)).one())
            self._append_event(conn, row.chain_id, EventKind.NODE_COMMITTED, node)
            return node, removed

    def discard(self, owner: str, node_id: str) -> list[Removed]:
        """Delete a node that is neither the root nor committed, with its subtree."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            if row.parent_id is None:
                raise Conflict("The root node can't be discarded.")
            if row.committed:
                raise Conflict("Committed nodes are on the spine and can't be discarded.")
            return self._delete_subtree(conn, row.chain_id, node_id)

    def _delete_subtree(self, conn: Connection, chain_id: str, top_id: str) -> list[Removed]:
        tree = select(nodes.c.id).where(nodes.c.id == top_id).cte("subtree", recursive=True)
        tree = tree.union_all(select(nodes.c.id).join(tree, nodes.c.parent_id == tree.c.id))
        rows = conn.execute(
            select(nodes.c.id, nodes.c.audio_key, nodes.c.job_id).join(tree, tree.c.id == nodes.c.id)
        ).all()
        ids = [r.id for r in rows]
        job_ids = {r.job_id for r in rows if r.job_id}
        # Deepest first is what the FK wants; one statement with all ids is fine
        # since the whole subtree goes.
        conn.execute(delete(nodes).where(nodes.c.id.in_(ids)))
        if job_ids:
            conn.execute(
                delete(jobs).where(
                    jobs.c.id.in_(job_ids), ~exists().where(nodes.c.job_id == jobs.c.id)
                )
            )
        for node_id in ids:
            self._append_event(conn, chain_id, EventKind.NODE_DISCARDED, node_id=node_id)
        return [Removed(r.id, r.audio_key) for r in rows]

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
            )
            for r in rows
        ]

    def audio_keys(self) -> set[str]:
        """Every blob key a node or a stem refers to (for sweeping orphaned blobs)."""
        with self._read() as conn:
            keys = set(conn.execute(select(nodes.c.audio_key).where(nodes.c.audio_key.is_not(None))).scalars())
            return keys | set(conn.execute(select(stem_files.c.audio_key)).scalars())
