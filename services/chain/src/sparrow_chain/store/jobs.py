"""The durable job queue the dispatcher works from.

A job is one generation call for a batch of sibling nodes. Claiming takes a
lease; the claimer renews it while it works. A job whose lease ran out (its
claimer died) is claimable again. On PostgreSQL claims use FOR UPDATE SKIP
LOCKED, so replicas share the queue without waiting on each other; on SQLite,
BEGIN IMMEDIATE serializes them.

Claims are fair across users: the next job is the oldest of the user served
least recently (the `turns` table keeps when each user's last job was claimed),
so a user who queues fifty takes holds another's one take behind one of theirs,
not fifty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, func, literal, select, update

from sparrow_chain.domain import Melody, Node, NodeStatus, StemsStatus, StoredAudio
from sparrow_chain.store.base import Store, claimable, now, upsert
from sparrow_chain.store.convert import audio_columns, node_from_row
from sparrow_chain.store.tables import chains, jobs, nodes, stem_files, stem_sets, turns

GENERATE = "generate"
# A user whose job was never claimed comes before everyone served since.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    chain_id: str
    attempts: int
    # The takes to write, oldest first; all siblings of one parent.
    nodes: list[Node]
    request_id: str = ""

    @property
    def parent_id(self) -> str:
        return self.nodes[0].parent_id


class JobQueue(Store):
    """Claim, renew, finish, retry and fail generation jobs."""

    def claim(self, owner: str, lease_s: float) -> ClaimedJob | None:
        """The oldest claimable job, now leased to `owner`, its nodes `generating`;
        None when there is nothing to do. Jobs whose nodes were all discarded are
        dropped on the way."""
        while True:
            with self._write() as conn:
                moment = now()
                # The user served longest ago (or never) first, then their oldest job.
                turn = select(turns.c.last_claimed_at).where(turns.c.owner_id == chains.c.owner_id)
                query = (
                    select(jobs.c.id, jobs.c.chain_id, jobs.c.attempts, jobs.c.request_id, chains.c.owner_id)
                    .join_from(jobs, chains, chains.c.id == jobs.c.chain_id)
                    .where(jobs.c.kind == GENERATE, claimable(moment))
                    .order_by(func.coalesce(turn.scalar_subquery(), NEVER), jobs.c.created_at)
                    .limit(1)
                    .with_for_update(skip_locked=True, of=jobs)
                )
                row = conn.execute(query).first()
                if row is None:
                    return None
                self._take_turn(conn, row.owner_id, moment)
                members = self._members(conn, row.id)
                if not members:
                    conn.execute(delete(jobs).where(jobs.c.id == row.id))
                    continue
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id)
                    .values(
                        state="running",
                        lease_owner=owner,
                        lease_expires_at=moment + timedelta(seconds=lease_s),
                        attempts=jobs.c.attempts + 1,
                        updated_at=moment,
                    )
                )
                started = [
                    self._set_node(
                        conn, n.id, status=NodeStatus.GENERATING.value, progress=0.0, eta_s=None, error_message=""
                    )
                    for n in members
                ]
                return ClaimedJob(row.id, row.chain_id, row.attempts + 1, started, row.request_id)

    def _take_turn(self, conn: Connection, owner_id: str, moment: datetime) -> None:
        conn.execute(
            upsert(conn, turns)
            .values(owner_id=owner_id, last_claimed_at=moment)
            .on_conflict_do_update(index_elements=[turns.c.owner_id], set_={"last_claimed_at": moment})
        )

    def _members(self, conn: Connection, job_id: str) -> list[Node]:
        rows = conn.execute(
            select(nodes).where(nodes.c.job_id == job_id).order_by(nodes.c.created_at, nodes.c.id)
        ).all()
        return [node_from_row(r) for r in rows]

    def _owned(self, conn: Connection, job_id: str, owner: str) -> bool:
        return (
            conn.execute(
                select(literal(1)).where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.state == "running")
            ).first()
            is not None
        )

    def progress(self, job_id: str, owner: str, fraction: float, eta_s: float | None = None) -> list[Node]:
        """Record how far the job's nodes are, and the seconds they should still
        take (None when the worker can't tell yet)."""
        with self._write() as conn:
            if not self._owned(conn, job_id, owner):
                return []
            changed = (self._set_node(conn, m.id, progress=fraction, eta_s=eta_s) for m in self._members(conn, job_id))
            return [n for n in changed if n is not None]

    def finish(self, job_id: str, owner: str, results: dict[str, StoredAudio]) -> list[str]:
        """Store each node's audio (StoredAudio by node id), make it ready and drop
        the job. Returns the node ids whose audio has no home: discarded meanwhile,
        or every one when the lease was lost to another dispatcher."""
        orphans = []
        with self._write() as conn:
            if not self._owned(conn, job_id, owner):
                return list(results)
            for node_id, audio in results.items():
                node = self._set_node(
                    conn, node_id, status=NodeStatus.READY.value, progress=1.0, eta_s=None, error_message="",
                    **audio_columns(audio),
                )
                if node is None:
                    orphans.append(node_id)
            conn.execute(update(nodes).where(nodes.c.job_id == job_id).values(job_id=None))
            conn.execute(delete(jobs).where(jobs.c.id == job_id))
        return orphans

    def retry(self, job_id: str, owner: str, delay_s: float, count_attempt: bool = True) -> None:
        """Give the job back to the queue, claimable after `delay_s`; its nodes go
        back to pending."""
        with self._write() as conn:
            if not self._owned(conn, job_id, owner):
                return
            values = dict(state="queued", lease_owner=None, lease_expires_at=now() + timedelta(seconds=delay_s))
            if not count_attempt:
                values["attempts"] = jobs.c.attempts - 1
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=now(), **values))
            for member in self._members(conn, job_id):
                self._set_node(conn, member.id, status=NodeStatus.PENDING.value, progress=0.0, eta_s=None)

    def fail(self, job_id: str, owner: str | None, message: str) -> None:
        """End the job: its nodes become `error` with `message`."""
        with self._write() as conn:
            if owner is not None and not self._owned(conn, job_id, owner):
                return
            for member in self._members(conn, job_id):
                self._set_node(conn, member.id, status=NodeStatus.ERROR.value, eta_s=None, error_message=message)
            conn.execute(update(nodes).where(nodes.c.job_id == job_id).values(job_id=None))
            conn.execute(delete(jobs).where(jobs.c.id == job_id))

    def counts(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """Jobs of every kind and state across all replicas, and how many of each
        kind could be claimed right now (the queue's depth)."""
        with self._read() as conn:
            by_state = conn.execute(
                select(jobs.c.kind, jobs.c.state, func.count()).group_by(jobs.c.kind, jobs.c.state)
            ).all()
            waiting = conn.execute(
                select(jobs.c.kind, func.count()).where(claimable(now())).group_by(jobs.c.kind)
            ).all()
        return {(kind, state): n for kind, state, n in by_state}, {kind: n for kind, n in waiting}

    def melody_audio(self, melody: Melody) -> StoredAudio | None:
        """The audio a take's melody is heard from: its node's, or that node's
        stem; None when the node (or the stem) is gone since the take was asked."""
        with self._read() as conn:
            node = conn.execute(select(nodes).where(nodes.c.id == melody.node_id)).first()
            if node is None or node.audio_key is None:
                return None
            if melody.stem is None:
                return node_from_row(node).audio
            stem = ready_stem(conn, node.audio_sha256, melody.stem)
        if stem is None:
            return None
        return StoredAudio(
            stem.audio_key, stem.audio_format, stem.content_type, stem.sample_rate, stem.channels,
            stem.duration_s, stem.size_bytes,
        )

    def context_path(self, parent_id: str, seconds: float) -> list[Node]:
        """The nodes whose audio the last `seconds` of the path ending at
        `parent_id` come from, oldest first: the parent, and its ancestors as far
        back as needed when the parent alone is shorter."""
        path = select(nodes.c.id, nodes.c.parent_id, literal(0).label("depth")).where(nodes.c.id == parent_id)
        path = path.cte("path", recursive=True)
        path = path.union_all(
            select(nodes.c.id, nodes.c.parent_id, (path.c.depth + 1).label("depth")).join(
                path, nodes.c.id == path.c.parent_id
            )
        )
        with self._read() as conn:
            rows = conn.execute(select(nodes).join(path, path.c.id == nodes.c.id).order_by(path.c.depth)).all()
        chosen: list[Node] = []
        heard = 0.0
        for row in rows:
            node = node_from_row(row)
            if node.audio is None:
                break
            chosen.append(node)
            heard += node.audio.duration_s
            if heard >= seconds:
                break
        return chosen[::-1]


def ready_stem(conn: Connection, content_hash: str, stem: str):
    """The stem file `stem` of the audio `content_hash`, when its set is ready; else None."""
    return conn.execute(
        select(stem_files)
        .join(stem_sets, stem_sets.c.content_hash == stem_files.c.content_hash)
        .where(
            stem_files.c.content_hash == content_hash,
            stem_files.c.stem == stem,
            stem_sets.c.status == StemsStatus.READY.value,
        )
    ).first()
