"""The analysis kind of job: a node's audio to the analysis worker, what it
heard back onto the node (its `analysis` column, with an event, as every node
change). A job is queued in the transaction that stores the node's audio (the
root's at upload, a take's when it is ready) when analysis is on, and for a
part's takes again in a regrid's transaction (store/moves.py). The lease is
the queue's (store/queue.py), as for every kind; jobs are claimed oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, delete, select

from sparrow_chain.domain import AnalysisStatus, NodeAnalysis
from sparrow_chain.store.base import ANALYSIS, Store, claimable
from sparrow_chain.store.tables import jobs, nodes


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


class Analyses(Store):
    """The analysis kind of job (its adapter for the queue)."""

    name = ANALYSIS

    def next(self, conn: Connection, moment: datetime):
        return conn.execute(
            select(jobs.c.id, jobs.c.chain_id, jobs.c.node_id, jobs.c.attempts, jobs.c.request_id)
            .where(jobs.c.kind == ANALYSIS, claimable(moment))
            .order_by(jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()

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
            select(nodes.c.audio_key, nodes.c.parent_id, nodes.c.from_s).where(nodes.c.id == row.node_id)
        ).first()
        if node is None or node.audio_key is None:
            conn.execute(delete(jobs).where(jobs.c.id == row.id))
            return None
        self._set(conn, row.node_id, NodeAnalysis(AnalysisStatus.ANALYZING))
        return ClaimedAnalysis(
            row.id, row.chain_id, row.attempts + 1, row.node_id, node.audio_key, node.parent_id, row.request_id,
            node.from_s,
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
