"""The analysis kind of job: a node's audio to the analysis worker, what it
heard back onto the node (its `analysis` column, with an event, as every node
change). A job is queued in the transaction that stores the node's audio (the
root's at upload, a take's when it is ready) when analysis is on, and for a
part's takes again in a regrid's transaction (store/moves.py). The lease is
the queue's (store/queue.py), as for every kind.

Which comes next: a take's seam report first (a musician is waiting on it to
rank the takes), and with it an upload's analysis something waits on (a take's
seam, takes on the bar line); then uploads. Within each, users take turns as
for takes (`analysis_turns`, a clock of their own: a user whose analysis was
claimed longest ago, or never, first), each user's oldest first. So a burst of
one user's uploads holds another's one upload behind one of theirs, and no
take's seam behind any upload.

The queue holds at most `analyses_per_user` of a user's analyses: an upload
past it is stored and answered as usual, its node's analysis pending, but its
job `held` (base.py): not claimable, nor counted in the queue's depth. Each
claim first lets held jobs in (`let_in`), each user's oldest while they have
room, and any a take waits on at once; nothing is dropped, and a user's
uploads are heard in the order they came.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, case, delete, exists, func, or_, select, update

from sparrow_chain.domain import AnalysisStatus, NodeAnalysis
from sparrow_chain.store.base import ANALYSES_PER_USER, ANALYSIS, HELD, Store, claimable, upsert
from sparrow_chain.store.tables import analysis_turns, chains, job_waits, jobs, nodes
from sparrow_chain.store.takes import NEVER


@dataclass(frozen=True)
class ClaimedAnalysis:
    """An analysis job, claimed."""

    kind = ANALYSIS
    id: str
    chain_id: str
    attempts: int
    node_id: str
    # The node's audio, and its parent (None for a root: no seam to report).
    audio_key: str
    parent_id: str | None
    request_id: str = ""
    # Where in its parent the take continues from; None for the parent's end.
    from_s: float | None = None
    # For a take that replaces a stretch: where the parent (or the later part
    # `until_node_id`) should come back.
    until_s: float | None = None
    until_node_id: str | None = None


class Analyses(Store):
    """The analysis kind of job (its adapter for the queue)."""

    name = ANALYSIS

    def __init__(self, engine, analyses_per_user: int = ANALYSES_PER_USER):
        super().__init__(engine, analyses_per_user=analyses_per_user)

    def next(self, conn: Connection, moment: datetime):
        """Its next claimable job, locked: a seam (or what one waits on) before
        an upload, then the user served longest ago (or never), then their oldest."""
        awaited = exists().where(job_waits.c.on_job_id == jobs.c.id)
        upload_last = case((or_(nodes.c.parent_id.is_not(None), awaited), 0), else_=1)
        turn = select(analysis_turns.c.last_claimed_at).where(analysis_turns.c.owner_id == chains.c.owner_id)
        return conn.execute(
            select(jobs.c.id, jobs.c.chain_id, jobs.c.node_id, jobs.c.attempts, jobs.c.request_id, chains.c.owner_id)
            .join_from(jobs, chains, chains.c.id == jobs.c.chain_id)
            .outerjoin(nodes, nodes.c.id == jobs.c.node_id)
            .where(jobs.c.kind == ANALYSIS, claimable(moment))
            .order_by(upload_last, func.coalesce(turn.scalar_subquery(), NEVER), jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True, of=jobs)
        ).first()

    def let_in(self) -> None:
        """Held jobs into the queue: each user's oldest while they have fewer
        than `analyses_per_user` there, and any a take waits on. Its own
        transaction, before a claim's (which locks jobs, then chains): it locks
        nothing but each user's count (`_queued_analyses`, as an upload does)
        and the held jobs, one at a time, by user and age, so two at once (other
        replicas) lock them in the same order and let each in once."""
        with self._read() as conn:
            if conn.execute(select(jobs.c.id).where(jobs.c.state == HELD).limit(1)).first() is None:
                return
        with self._write() as conn:
            owners = conn.execute(
                select(chains.c.owner_id).join(jobs, jobs.c.chain_id == chains.c.id)
                .where(jobs.c.state == HELD).distinct().order_by(chains.c.owner_id)
            ).scalars().all()
            for owner in owners:
                held = (
                    select(jobs.c.id).join(chains, chains.c.id == jobs.c.chain_id)
                    .where(jobs.c.state == HELD, chains.c.owner_id == owner)
                )
                awaited = held.where(exists().where(job_waits.c.on_job_id == jobs.c.id))
                room = self.analyses_per_user - self._queued_analyses(conn, owner)
                oldest = held.order_by(jobs.c.created_at, jobs.c.id).limit(max(room, 0))
                chosen = {*conn.execute(awaited).scalars(), *conn.execute(oldest).scalars()}
                in_order = select(jobs.c.id).where(jobs.c.id.in_(chosen)).order_by(jobs.c.created_at, jobs.c.id)
                for job_id in conn.execute(in_order).scalars().all():
                    conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == HELD).values(state="queued"))

    def _set(self, conn: Connection, node_id: str, analysis: NodeAnalysis) -> bool:
        """A node heard again (its parent's grid changed) keeps the clip heard
        before until the new one lands: its own grid stands meanwhile."""
        if analysis.clip is None and analysis.status is not AnalysisStatus.READY:
            before = NodeAnalysis.from_json(conn.execute(select(nodes.c.analysis).where(nodes.c.id == node_id)).scalar())
            if before is not None and before.clip is not None:
                analysis = replace(analysis, clip=before.clip)
        return self._set_node(conn, node_id, analysis=analysis.to_json()) is not None

    def start(self, conn: Connection, row, moment: datetime) -> ClaimedAnalysis | None:
        """The node's analysis starts; None when the node (or its audio) is gone."""
        node = conn.execute(
            select(nodes.c.audio_key, nodes.c.parent_id, nodes.c.from_s, nodes.c.until_s, nodes.c.until_node_id)
            .where(nodes.c.id == row.node_id)
        ).first()
        if node is None or node.audio_key is None:
            conn.execute(delete(jobs).where(jobs.c.id == row.id))
            return None
        conn.execute(
            upsert(conn, analysis_turns)
            .values(owner_id=row.owner_id, last_claimed_at=moment)
            .on_conflict_do_update(index_elements=[analysis_turns.c.owner_id], set_={"last_claimed_at": moment})
        )
        self._set(conn, row.node_id, NodeAnalysis(AnalysisStatus.ANALYZING))
        return ClaimedAnalysis(
            row.id, row.chain_id, row.attempts + 1, row.node_id, node.audio_key, node.parent_id, row.request_id,
            node.from_s, node.until_s, node.until_node_id,
        )

    def _node_of(self, conn: Connection, job_id: str) -> str:
        return conn.execute(select(jobs.c.node_id).where(jobs.c.id == job_id)).scalar_one()

    def progress(self, conn: Connection, job_id: str, fraction: float, eta_s: float | None) -> list:
        return []  # seconds of work: a node shows its analysis when it lands

    def finish(self, conn: Connection, job_id: str, results: dict) -> list[str]:
        """`results["analysis"]`: what the worker heard, a ready NodeAnalysis."""
        self._set(conn, self._node_of(conn, job_id), results["analysis"])
        return []

    def requeue(self, conn: Connection, job_id: str) -> None:
        self._set(conn, self._node_of(conn, job_id), NodeAnalysis(AnalysisStatus.PENDING))

    def end(self, conn: Connection, job_id: str, message: str) -> None:
        self._set(conn, self._node_of(conn, job_id), NodeAnalysis(AnalysisStatus.ERROR, error_message=message))
