"""The musician's moves on a chain: commit, uncommit, discard (to the chain's
bin), restore and regrid (the musician's word on a part's grid), each recorded
for undo and redo.

Every move runs in one write transaction holding the chain's row lock, like
every other write to the chain, so moves on one chain happen one at a time: an
uncommit racing a commit sees the commit done or not at all, and the spine never
forks (the partial unique index says so too). A node's audio is never rewritten
and nothing is deleted here: a discarded node (with its subtree) goes to the bin,
still holding its audio, until the bin is emptied (`empty_bin`, or
`sweep_bin` after CHAIN_BIN_TTL_S).

Undo applies the inverse of the latest move not undone (commit <-> uncommit,
discard <-> restore; a regrid puts back the correction before it) and marks it
undone; redo applies the earliest undone move again (a regrid, the correction
after it). A new move forgets the undone ones, as every editor's redo does.
Each of these (and an emptied bin, which forgets the moves on what it held)
answers what undo and redo would do next, and logs it as a history.changed
event in its transaction: an editor, this one's or another's, needs no read.

A regrid changes the grid the part's takes were heard against: each of its
takes with audio (not those in the bin) is heard again (an analysis job, queued in the same
transaction), so its seam report measures against the corrected grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, delete, exists, func, insert, select, update

from sparrow_chain.domain import (
    AnalysisStatus, EventKind, GridCorrection, History, Move, MoveKind, Node, NodeAnalysis, NodeStatus, Rejoin,
)
from sparrow_chain.store.base import ANALYSIS, Store, now
from sparrow_chain.store.convert import node_from_row
from sparrow_chain.store.tables import chains, jobs, moves, nodes
from sparrow_chain.stretches import first_downbeat, seconds_between
from sparrow_common.errors import Conflict, InvalidArgument, NotFound
from sparrow_common.ids import new_id


@dataclass(frozen=True)
class Removed:
    """A node deleted for good (a commit or an emptied bin), and the blob it
    leaves behind (deleted once no node or stem refers to it)."""

    node_id: str
    audio_key: str | None


# Takes still being made when they go to the bin stop, and come back cancelled.
_UNFINISHED = (NodeStatus.PENDING.value, NodeStatus.GENERATING.value)


class Moves(Store):
    """The moves, the bin and the history of a chain (mixed into ChainStore)."""

    # -- lookups (ChainStore's too) ------------------------------------------------

    def _lock_chain(self, conn: Connection, chain_id: str) -> None:
        """Lock a chain for a move: its jobs' rows first (FOR NO KEY UPDATE, in
        id order), then its own. A job's progress and results lock the job's row
        and then its chain's (store/queue.py); a move that took the chain first
        and then deleted a binned take's job deadlocked with them on PostgreSQL
        (bench/faults.py: a commit's 502 and a take failed). NO KEY UPDATE leaves
        the FOR KEY SHARE of a job queued to wait on these free."""
        conn.execute(
            select(jobs.c.id).where(jobs.c.chain_id == chain_id).order_by(jobs.c.id).with_for_update(key_share=True)
        )
        conn.execute(select(chains.c.id).where(chains.c.id == chain_id).with_for_update())

    def _chain_row(self, conn: Connection, owner: str, chain_id: str, lock: bool = False):
        if lock:
            self._lock_chain(conn, chain_id)
        query = select(chains).where(chains.c.id == chain_id, chains.c.owner_id == owner)
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

    # -- the moves ---------------------------------------------------------------

    def commit(self, owner: str, node_id: str) -> tuple[Node, History]:
        """Put a ready node on the spine; its uncommitted siblings go to the bin.

        Committing is only possible at the spine's tip: the node's parent must be
        committed and must not already continue with another committed child.
        When the take continues from a point of its parent (`from_s`), the parent
        stops there on the spine (its out point). Committing a node already
        committed changes nothing. The node, and what undo and redo do next
        (as every move below)."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            if row.committed:
                return node_from_row(row), self._history(conn, row.chain_id)
            node = self._commit(conn, row)
            return node, self._record(conn, row.chain_id, MoveKind.COMMIT, node_id)

    def uncommit(self, owner: str, node_id: str) -> tuple[Node, History]:
        """Take the spine's tip off it: it is a take again, its parent plays to
        its end, and the siblings its commit sent to the bin come back."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            node = self._uncommit(conn, row)
            return node, self._record(conn, row.chain_id, MoveKind.UNCOMMIT, node_id)

    def discard(self, owner: str, node_id: str) -> History:
        """Send a node that is neither the root nor committed, with its subtree,
        to the chain's bin; a take still being made stops."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            self._discard(conn, row)
            return self._record(conn, row.chain_id, MoveKind.DISCARD, node_id)

    def restore(self, owner: str, node_id: str) -> tuple[Node, History]:
        """Bring a node (with the subtree binned with it) back from the bin."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            node = self._restore(conn, row)
            return node, self._record(conn, row.chain_id, MoveKind.RESTORE, node_id)

    def set_grid(self, owner: str, node_id: str, correction: GridCorrection) -> tuple[Node, History]:
        """The musician's word on a part's grid: the whole correction (what it
        leaves unset is as heard); the node and what undo and redo do next."""
        with self._write() as conn:
            row = self._locked_node(conn, owner, node_id)
            before = GridCorrection.from_json(row.grid_correction)
            node = self._regrid(conn, row, correction)
            return node, self._record(conn, row.chain_id, MoveKind.REGRID, node_id, before, node.grid_correction)

    def _regrid(self, conn: Connection, row, correction: GridCorrection | None) -> Node:
        if row.binned_at is not None:
            raise Conflict("This node is in the bin: restore it first.")
        if row.audio_key is None:
            raise Conflict(f"This node has no audio yet (it is {row.status}): its grid can't be set.")
        correction = correction or GridCorrection()
        correction.validated(row.duration_s)
        node = self._set_node(conn, row.id, grid_correction=correction.to_json())
        # Its takes were heard against the grid before: hear them again.
        if self.analyze:
            takes = conn.execute(
                select(nodes.c.id, nodes.c.analysis).where(
                    nodes.c.parent_id == row.id, nodes.c.audio_key.is_not(None), nodes.c.binned_at.is_(None)
                ).order_by(nodes.c.created_at, nodes.c.id)
            ).all()
            for take in takes:
                conn.execute(delete(jobs).where(jobs.c.kind == ANALYSIS, jobs.c.node_id == take.id, jobs.c.state == "queued"))
                heard = NodeAnalysis.from_json(take.analysis)
                self._set_node(conn, take.id, **self._analysis_asked(conn, row.chain_id, take.id, heard and heard.clip))
        return node

    def _commit(self, conn: Connection, row) -> Node:
        if row.binned_at is not None:
            raise Conflict("This node is in the bin: restore it first.")
        if row.status != NodeStatus.READY.value:
            raise Conflict(f"Only 'ready' nodes can be committed; this one is '{row.status}'.")
        parent = conn.execute(select(nodes).where(nodes.c.id == row.parent_id)).one()
        if not parent.committed:
            raise Conflict("This node's parent is not on the spine; commit the parent first.")
        other = conn.execute(select(nodes.c.id).where(nodes.c.parent_id == parent.id, nodes.c.committed)).scalar()
        if other is not None and row.until_s is None:
            raise Conflict(
                f"The spine already continues from this node's parent with node {other}; "
                "committing this one too would fork it."
            )
        rejoin = self._rejoin_of(conn, row) if row.until_s is not None else None
        source, path = parent, []  # the part the stretch ends in, whose rest follows the take
        if row.until_node_id is not None:
            path = self._between(conn, parent.id, row.until_node_id)
            if path is None or not all(r.committed and r.binned_at is None for r in path):
                raise Conflict(
                    "The stretch this take replaces runs into a part that is no longer on the spine after its "
                    "parent: ask for new takes of the stretch."
                )
            source = path[-1]
        siblings = conn.execute(
            select(nodes).where(
                nodes.c.parent_id == parent.id, nodes.c.id != row.id, nodes.c.binned_at.is_(None), ~nodes.c.committed
            )
        ).all()
        for sibling in siblings:
            self._bin(conn, sibling, binned_by=row.id)
        moment = now()
        rest, after = self._rest_after(conn, row, source, rejoin) if rejoin is not None else (None, None)
        # The parts between leave the spine, to the part the stretch ends in: a
        # branch of the parent, as they were (only the spine is committed).
        for between in path[1:]:
            conn.execute(update(nodes).where(nodes.c.id == between.id).values(committed=False, updated_at=moment))
            self._append_event(conn, row.chain_id, EventKind.NODE_UNCOMMITTED, self._node(conn, between.id))
        conn.execute(update(nodes).where(nodes.c.id == row.id).values(committed=True, updated_at=moment))
        # The parent plays up to where this take continues from (all of it when from its end).
        conn.execute(update(nodes).where(nodes.c.id == parent.id).values(out_s=row.from_s, updated_at=moment))
        if parent.out_s != row.from_s:
            self._append_event(conn, row.chain_id, EventKind.NODE_UPDATED, self._node(conn, parent.id))
        node = self._node(conn, row.id)
        self._append_event(conn, row.chain_id, EventKind.NODE_COMMITTED, node)
        if rest is not None:
            self._append_event(conn, row.chain_id, EventKind.NODE_COMMITTED, self._node(conn, rest))
            if after is not None:
                self._append_event(conn, row.chain_id, EventKind.NODE_UPDATED, self._node(conn, after))
        return node

    def _rejoin_of(self, conn: Connection, row) -> Rejoin:
        """Where a take that replaces a stretch gives way to its parent: where
        its analysis heard it, or the asked point when nothing listens
        (analysis off, or failed); Conflict while it is being listened for."""
        heard = NodeAnalysis.from_json(row.analysis)
        if heard is not None and heard.rejoin is not None:
            return heard.rejoin
        if heard is not None and heard.status in (AnalysisStatus.PENDING, AnalysisStatus.ANALYZING):
            raise Conflict("Sparrow is still listening for where the part comes back after this take; commit it once it has.")
        why = heard.error_message if heard is not None and heard.error_message else "nothing listened for it"
        if row.from_s == 0.0:  # an intro: the clip comes in at its first downbeat after it
            parent = node_from_row(conn.execute(select(nodes).where(nodes.c.id == row.parent_id)).one())
            return Rejoin(at_s=first_downbeat(parent), take_s=row.until_s, unjudged=f"comes in where asked: {why}")
        return Rejoin(at_s=row.until_s, unjudged=f"comes back where asked: {why}")

    def _rest_after(self, conn: Connection, take, parent, rejoin: Rejoin) -> tuple[str, str | None]:
        """The rest of `parent` (the part the stretch `take` replaces ends in)
        after the take: a committed part under the take, sharing the part's
        audio from the rejoin to its out point, with the spine's next part
        after it moved under it. The same node when an undone commit of the
        take sent it to the bin (with what was asked of it), else a new one.
        Its id, and the next part's (None at the tip)."""
        after = conn.execute(select(nodes.c.id).where(nodes.c.parent_id == parent.id, nodes.c.committed)).scalar()
        length = take.duration_s or 0.0
        # The take plays to the rejoin, and half the crossfade past it from its own audio.
        played = rejoin.take_s if rejoin.take_s is not None else self._on_take(conn, take, parent, rejoin.at_s)
        fade = max(min(rejoin.crossfade_s, 2 * (length - played)), 0.0)
        where = {"from_s": round(played, 6), "in_s": rejoin.at_s, "in_fade_s": fade, "out_s": parent.out_s}
        rest = conn.execute(
            select(nodes).where(
                nodes.c.parent_id == take.id, nodes.c.binned_by == take.id, nodes.c.bin_top == nodes.c.id,
                nodes.c.in_s.is_not(None),
            )
        ).first()
        if rest is not None:
            self._unbin(conn, rest)
            conn.execute(update(nodes).where(nodes.c.id == rest.id).values(committed=True, updated_at=now(), **where))
            rest_id = rest.id
        else:
            rest_id = new_id()
            copied = {c.name: getattr(parent, c.name) for c in nodes.columns}
            copied.update(
                id=rest_id, parent_id=take.id, job_id=None, committed=True, until_s=None, melody_node_id=None,
                melody_stem=None, binned_at=None, bin_top=None, binned_by=None, created_at=now(), updated_at=now(),
                note=f"the rest of the part after the replaced stretch, from {rejoin.at_s:.2f} s", **where,
            )
            conn.execute(insert(nodes).values(**copied))
            self._append_event(conn, take.chain_id, EventKind.NODE_CREATED, self._node(conn, rest_id))
        if after is not None:
            conn.execute(update(nodes).where(nodes.c.id == after).values(parent_id=rest_id, updated_at=now()))
        conn.execute(update(nodes).where(nodes.c.id == take.id).values(out_s=where["from_s"]))
        return rest_id, after

    def _on_take(self, conn: Connection, take, part, at_s: float) -> float:
        """Second `at_s` of `part` (where a stretch `take` replaces ends) on the
        take's own clock: the spine's seconds from the take's from_s to there."""
        rows = self._between(conn, take.parent_id, part.id) if part.id != take.parent_id else None
        return seconds_between([node_from_row(row) for row in rows or [part]], take.from_s, at_s)

    def _uncommit(self, conn: Connection, row) -> Node:
        if row.parent_id is None:
            raise Conflict("The root is where the chain starts: it can't be uncommitted.")
        if not row.committed:
            raise Conflict("This node is not on the spine.")
        if row.in_s is not None:
            parent = conn.execute(select(nodes.c.until_s).where(nodes.c.id == row.parent_id)).scalar()
            if parent is not None:
                raise Conflict(
                    "This is the rest of a part after a replaced stretch: uncommit the take before it "
                    f"(node {row.parent_id}) to put the stretch back."
                )
        child = conn.execute(select(nodes).where(nodes.c.parent_id == row.id, nodes.c.committed)).first()
        rest = child if row.until_s is not None and child is not None and child.in_s is not None else None
        if child is not None and rest is None:
            raise Conflict(f"Only the spine's tip can be uncommitted; the spine goes on with node {child.id}.")
        moment = now()
        had_out_point = conn.execute(select(nodes.c.out_s).where(nodes.c.id == row.parent_id)).scalar() is not None
        conn.execute(update(nodes).where(nodes.c.id == row.id).values(committed=False, out_s=None, updated_at=moment))
        # The parent plays to its end again (to where the rest of it stopped,
        # after a replaced stretch; to where the parts between went on, after one across parts).
        out_s = rest.out_s if rest is not None else None
        if rest is not None and row.until_node_id is not None:
            path = self._between(conn, row.parent_id, row.until_node_id) or []
            for between in path[1:]:
                conn.execute(update(nodes).where(nodes.c.id == between.id).values(committed=True, updated_at=moment))
                self._append_event(conn, row.chain_id, EventKind.NODE_COMMITTED, self._node(conn, between.id))
            out_s = path[1].from_s if len(path) > 1 else out_s
        conn.execute(update(nodes).where(nodes.c.id == row.parent_id).values(out_s=out_s, updated_at=moment))
        if had_out_point or out_s is not None:
            self._append_event(conn, row.chain_id, EventKind.NODE_UPDATED, self._node(conn, row.parent_id))
        node = self._node(conn, row.id)
        self._append_event(conn, row.chain_id, EventKind.NODE_UNCOMMITTED, node)
        # What its commit sent to the bin comes back (unless emptied since).
        tops = conn.execute(
            select(nodes).where(
                nodes.c.binned_by == row.id, nodes.c.bin_top == nodes.c.id, nodes.c.parent_id == row.parent_id
            )
        ).all()
        for top in tops:
            self._unbin(conn, top)
        if rest is not None:
            self._put_back(conn, row, rest)
        return node

    def _put_back(self, conn: Connection, take, rest) -> None:
        """After a take that replaced a stretch leaves the spine: the part after
        the rest of its parent moves back under the parent, and the rest goes to
        the bin (with what was asked of it), where committing the take again
        finds it."""
        after = conn.execute(select(nodes.c.id).where(nodes.c.parent_id == rest.id, nodes.c.committed)).scalar()
        conn.execute(update(nodes).where(nodes.c.id == rest.id).values(committed=False, updated_at=now()))
        if after is not None:
            back = take.until_node_id or take.parent_id
            conn.execute(update(nodes).where(nodes.c.id == after).values(parent_id=back, updated_at=now()))
            self._append_event(conn, take.chain_id, EventKind.NODE_UPDATED, self._node(conn, after))
        self._bin(conn, conn.execute(select(nodes).where(nodes.c.id == rest.id)).one(), binned_by=take.id)

    def _discard(self, conn: Connection, row) -> None:
        if row.parent_id is None:
            raise Conflict("The root node can't be discarded.")
        if row.committed:
            raise Conflict("Committed nodes are on the spine and can't be discarded; uncommit the tip first.")
        if row.binned_at is not None:
            raise Conflict("This node is in the bin already.")
        self._bin(conn, row, binned_by=None)

    def _restore(self, conn: Connection, row) -> Node:
        if row.binned_at is None:
            raise Conflict("This node is not in the bin.")
        if row.bin_top != row.id:
            raise Conflict(
                f"This node went to the bin with node {row.bin_top}, under it: restore that one instead."
            )
        parent = conn.execute(select(nodes.c.binned_at).where(nodes.c.id == row.parent_id)).first()
        if parent is None:
            raise Conflict("This node's parent is gone: it can't come back.")
        if parent.binned_at is not None:
            raise Conflict("This node's parent is in the bin: restore the parent first.")
        return self._unbin(conn, row)

    def _bin(self, conn: Connection, top, binned_by: str | None) -> None:
        """`top` and its subtree (the parts not binned already) to the bin."""
        tree = select(nodes.c.id).where(nodes.c.id == top.id).cte("subtree", recursive=True)
        tree = tree.union_all(
            select(nodes.c.id).join(tree, nodes.c.parent_id == tree.c.id).where(nodes.c.binned_at.is_(None))
        )
        # Parents before children (a child is made after its parent), so a
        # watcher meets the top first, still under a node in the chain.
        rows = conn.execute(
            select(nodes).join(tree, tree.c.id == nodes.c.id).order_by(nodes.c.created_at, nodes.c.id)
        ).all()
        ids = [r.id for r in rows]
        moment = now()
        conn.execute(
            update(nodes).where(nodes.c.id.in_(ids))
            .values(binned_at=moment, bin_top=top.id, binned_by=binned_by, updated_at=moment)
        )
        # Takes still being made stop: their job goes when no take of it is left.
        unfinished = [r.id for r in rows if r.status in _UNFINISHED]
        if unfinished:
            conn.execute(
                update(nodes).where(nodes.c.id.in_(unfinished))
                .values(status=NodeStatus.CANCELLED.value, eta_s=None, error_message="discarded while being made")
            )
        job_ids = {r.job_id for r in rows if r.job_id}
        if job_ids:
            conn.execute(update(nodes).where(nodes.c.id.in_(ids)).values(job_id=None))
            conn.execute(delete(jobs).where(jobs.c.id.in_(job_ids), ~exists().where(nodes.c.job_id == jobs.c.id)))
        # Each with the node as it is in the bin, so a watcher keeps the bin's list without reading it.
        for node_id in ids:
            self._append_event(conn, top.chain_id, EventKind.NODE_DISCARDED, self._node(conn, node_id))

    def _unbin(self, conn: Connection, top) -> Node:
        ids = conn.execute(select(nodes.c.id).where(nodes.c.bin_top == top.id)).scalars().all()
        conn.execute(
            update(nodes).where(nodes.c.id.in_(ids))
            .values(binned_at=None, bin_top=None, binned_by=None, updated_at=now())
        )
        # Parents before children, so a watcher can place each under its parent.
        for row in conn.execute(select(nodes).where(nodes.c.id.in_(ids)).order_by(nodes.c.created_at, nodes.c.id)):
            self._append_event(conn, top.chain_id, EventKind.NODE_RESTORED, node_from_row(row))
        return self._node(conn, top.id)

    # -- the bin -------------------------------------------------------------------

    def bin(self, owner: str, chain_id: str) -> list[Node]:
        """The chain's bin: each node discarded (with what went with it under
        it), newest first."""
        with self._read() as conn:
            self._chain_row(conn, owner, chain_id)
            rows = conn.execute(
                select(nodes)
                .where(nodes.c.chain_id == chain_id, nodes.c.bin_top == nodes.c.id)
                .order_by(nodes.c.binned_at.desc(), nodes.c.id)
            ).all()
        return [node_from_row(r) for r in rows]

    def empty_bin(self, owner: str, chain_id: str) -> tuple[list[Removed], History]:
        """Delete what is in the chain's bin, for good; the blobs left, and what
        undo and redo do next (the moves on what went are forgotten)."""
        with self._write() as conn:
            self._chain_row(conn, owner, chain_id, lock=True)
            removed = self._delete_binned(conn, nodes.c.chain_id == chain_id)
            history = self._history_changed(conn, chain_id) if removed else self._history(conn, chain_id)
            return removed, history

    def sweep_bin(self, older_than: datetime) -> list[Removed]:
        """Delete, in every chain, what went to the bin before `older_than`."""
        with self._write() as conn:
            chain_ids = conn.execute(
                select(nodes.c.chain_id).where(nodes.c.binned_at < older_than).distinct()
            ).scalars().all()
            removed: list[Removed] = []
            for chain_id in sorted(chain_ids):  # in one order, as every writer of two chains must
                self._lock_chain(conn, chain_id)
                old_tops = select(nodes.c.id).where(
                    nodes.c.chain_id == chain_id, nodes.c.bin_top == nodes.c.id, nodes.c.binned_at < older_than
                )
                swept = self._delete_binned(conn, nodes.c.bin_top.in_(old_tops.scalar_subquery()))
                if swept:
                    self._history_changed(conn, chain_id)
                removed += swept
            return removed

    def _delete_binned(self, conn: Connection, which) -> list[Removed]:
        rows = conn.execute(
            select(nodes.c.id, nodes.c.audio_key).where(which, nodes.c.binned_at.is_not(None))
        ).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        # The moves on them can't be undone or redone any more.
        conn.execute(delete(moves).where(moves.c.node_id.in_(ids)))
        # A subtree goes to the bin whole and nothing grows under a binned
        # node, so every child of a node deleted here goes in the same statement.
        conn.execute(delete(nodes).where(nodes.c.id.in_(ids)))
        return [Removed(r.id, r.audio_key) for r in rows]

    # -- undo and redo ---------------------------------------------------------------

    def _record(
        self, conn: Connection, chain_id: str, kind: MoveKind, node_id: str,
        grid_before: GridCorrection | None = None, grid_after: GridCorrection | None = None,
    ) -> History:
        """A new move: what was undone can't be redone any more. A regrid keeps
        the part's correction before and after it. What undo and redo do now,
        logged."""
        conn.execute(delete(moves).where(moves.c.chain_id == chain_id, moves.c.undone))
        last = conn.execute(select(func.max(moves.c.seq)).where(moves.c.chain_id == chain_id)).scalar() or 0
        conn.execute(
            insert(moves).values(
                chain_id=chain_id, seq=last + 1, kind=kind.value, node_id=node_id, undone=False, created_at=now(),
                grid_before=grid_before.to_json() if grid_before else None,
                grid_after=grid_after.to_json() if grid_after else None,
            )
        )
        return self._history_changed(conn, chain_id)

    def history(self, owner: str, chain_id: str) -> History:
        with self._read() as conn:
            self._chain_row(conn, owner, chain_id)
            return self._history(conn, chain_id)

    def _history_changed(self, conn: Connection, chain_id: str) -> History:
        """Log what undo and redo do now (a history.changed event, in the
        caller's transaction); the history, with the event's seq."""
        history = self._history(conn, chain_id)
        return replace(history, seq=self._append_event(conn, chain_id, EventKind.HISTORY_CHANGED, history=history))

    @staticmethod
    def _history(conn: Connection, chain_id: str) -> History:
        """What undo and redo do now, as of the chain's latest event."""
        undo = conn.execute(
            select(moves).where(moves.c.chain_id == chain_id, ~moves.c.undone).order_by(moves.c.seq.desc()).limit(1)
        ).first()
        redo = conn.execute(
            select(moves).where(moves.c.chain_id == chain_id, moves.c.undone).order_by(moves.c.seq).limit(1)
        ).first()
        return History(
            undo=Move(MoveKind(undo.kind), undo.node_id) if undo else None,
            redo=Move(MoveKind(redo.kind), redo.node_id) if redo else None,
            seq=conn.execute(select(chains.c.event_seq).where(chains.c.id == chain_id)).scalar_one(),
        )

    def undo(self, owner: str, chain_id: str) -> tuple[Move, History]:
        """Undo the chain's latest move; returns it and what undo and redo do next."""
        with self._write() as conn:
            self._chain_row(conn, owner, chain_id, lock=True)
            latest = conn.execute(
                select(moves).where(moves.c.chain_id == chain_id, ~moves.c.undone).order_by(moves.c.seq.desc()).limit(1)
            ).first()
            if latest is None:
                raise Conflict("Nothing to undo on this chain.")
            move = Move(MoveKind(latest.kind), latest.node_id)
            self._apply(conn, move.kind.undone_by, move.node_id, GridCorrection.from_json(latest.grid_before))
            conn.execute(update(moves).where(moves.c.chain_id == chain_id, moves.c.seq == latest.seq).values(undone=True))
            return move, self._history_changed(conn, chain_id)

    def redo(self, owner: str, chain_id: str) -> tuple[Move, History]:
        """Do again the move undone last; returns it and what undo and redo do next."""
        with self._write() as conn:
            self._chain_row(conn, owner, chain_id, lock=True)
            earliest = conn.execute(
                select(moves).where(moves.c.chain_id == chain_id, moves.c.undone).order_by(moves.c.seq).limit(1)
            ).first()
            if earliest is None:
                raise Conflict("Nothing to redo on this chain.")
            move = Move(MoveKind(earliest.kind), earliest.node_id)
            self._apply(conn, move.kind, move.node_id, GridCorrection.from_json(earliest.grid_after))
            conn.execute(
                update(moves).where(moves.c.chain_id == chain_id, moves.c.seq == earliest.seq).values(undone=False)
            )
            return move, self._history_changed(conn, chain_id)

    def _apply(self, conn: Connection, kind: MoveKind, node_id: str, grid: GridCorrection | None = None) -> None:
        """Do `kind` to the node (a regrid sets its correction to `grid`)."""
        row = conn.execute(select(nodes).where(nodes.c.id == node_id)).first()
        if row is None:
            raise NotFound(f"node {node_id} is gone (its bin was emptied)")
        if kind is MoveKind.COMMIT:
            self._commit(conn, row)
        elif kind is MoveKind.UNCOMMIT:
            self._uncommit(conn, row)
        elif kind is MoveKind.DISCARD:
            self._discard(conn, row)
        elif kind is MoveKind.RESTORE:
            self._restore(conn, row)
        elif kind is MoveKind.REGRID:
            self._regrid(conn, row, grid)
        else:  # pragma: no cover - every kind is above
            raise InvalidArgument(f"unknown move {kind}")
