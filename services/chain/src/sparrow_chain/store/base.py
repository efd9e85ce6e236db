"""What every store shares: transactions and the event log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sparrow_chain.domain import AnalysisStatus, ClipAnalysis, EventKind, History, Node, NodeAnalysis, StemSet
from sparrow_chain.store.convert import history_to_json, node_from_row, node_to_json, stems_to_json
from sparrow_chain.store.engine import WRITE, answering
from sparrow_chain.store.tables import chains, events, job_waits, jobs, nodes
from sparrow_common import request_id
from sparrow_common.ids import new_id

# PostgreSQL NOTIFY channels: a chain's new events (the payload is its id), and new jobs.
EVENTS_CHANNEL = "sparrow_events"
JOBS_CHANNEL = "sparrow_jobs"


def now() -> datetime:
    return datetime.now(UTC)


def upsert(conn: Connection, table):
    """INSERT ... ON CONFLICT for the connection's database (SQLite or PostgreSQL)."""
    return (postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def claimable(moment: datetime):
    """Jobs that may be claimed at `moment`: queued, not held back and waiting on
    no other job, or running under a lease that ran out (its claimer died)."""
    return or_(
        and_(
            jobs.c.state == "queued",
            or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at <= moment),
            ~exists().where(job_waits.c.job_id == jobs.c.id),
        ),
        and_(jobs.c.state == "running", jobs.c.lease_expires_at <= moment),
    )


# The analysis job's kind (store/analyses.py).
ANALYSIS = "analysis"
# The state of an upload's analysis job past its user's bound: not in the
# queue (not claimable, nor counted in its depth) until its turn comes.
HELD = "held"
# An upload's analysis is held while this many of its user's are in the queue
# (CHAIN_ANALYSIS_QUEUE_PER_USER): a burst of 1,074 uploads in 60 s had queued
# 1,110 analyses, and every take's seam report waited behind them.
ANALYSES_PER_USER = 20
# The advisory locks' class for counting a user's analyses (store/engine.py's
# migration lock is a single 64-bit key: another key space).
ANALYSES_LOCK = 7306


class Store:
    """A set of queries over one database, each method one transaction.
    `analyze`: every node whose audio is stored gets an analysis job; at most
    `analyses_per_user` of a user's uploads' in the queue, the rest held."""

    def __init__(self, engine: Engine, analyze: bool = False, analyses_per_user: int = ANALYSES_PER_USER):
        self.engine = engine
        self.analyze = analyze
        self.analyses_per_user = analyses_per_user

    def _analysis_asked(
        self, conn: Connection, chain_id: str, node_id: str, heard: ClipAnalysis | None = None
    ) -> dict:
        """Queue the node's analysis (when analysis is on); the column values
        that say so, for the caller's update of the node. A node heard again
        keeps the clip `heard` before until the new one lands."""
        if not self.analyze:
            return {}
        # A take's seam is measured against its parent's grid: it waits for the parent's first hearing.
        parent_id = conn.execute(select(nodes.c.parent_id).where(nodes.c.id == node_id)).scalar()
        after = self._first_hearing(conn, parent_id) if parent_id is not None else []
        # An upload past its user's bound waits its turn held (store/analyses.py
        # lets it in); a take's never is: a musician waits on its seam.
        state = "queued"
        if parent_id is None:
            owner = conn.execute(select(chains.c.owner_id).where(chains.c.id == chain_id)).scalar_one()
            if self._queued_analyses(conn, owner) >= self.analyses_per_user:
                state = HELD
        self._queue_job(conn, chain_id, ANALYSIS, after=after, node_id=node_id, state=state)
        return {"analysis": NodeAnalysis(AnalysisStatus.PENDING, heard).to_json()}

    def _queued_analyses(self, conn: Connection, owner: str) -> int:
        """How many analyses `owner` has in the queue (waiting or being heard),
        held ones aside, the count held till this write transaction ends. On
        PostgreSQL two uploads of one user (or an upload and a claim letting held
        ones in) would each count before the other's job is written, and both
        take the last place in the queue; a transaction-scoped advisory lock per
        user makes the second count after the first commits. It is the only lock
        taken between counting and writing, and `let_in` takes users' in one
        order, so it waits on nothing that waits on it. SQLite writes one at a time."""
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(ANALYSES_LOCK, func.hashtext(owner))))
        return conn.execute(
            select(func.count()).select_from(jobs).join(chains, chains.c.id == jobs.c.chain_id)
            .where(jobs.c.kind == ANALYSIS, jobs.c.state != HELD, chains.c.owner_id == owner)
        ).scalar_one()

    def _first_hearing(self, conn: Connection, node_id: str) -> list[str]:
        """The node's analysis job while its first analysis is on its way
        (nothing heard in it yet): what takes aligned to its bars, and its
        takes' seams, wait on. Empty once it was heard, or with analysis off."""
        analysis = NodeAnalysis.from_json(conn.execute(select(nodes.c.analysis).where(nodes.c.id == node_id)).scalar())
        if analysis is None or analysis.clip is not None:
            return []
        return list(
            conn.execute(select(jobs.c.id).where(jobs.c.kind == ANALYSIS, jobs.c.node_id == node_id)).scalars()
        )

    # -- transactions ---------------------------------------------------------

    # Both raise Unavailable while PostgreSQL is away (engine.answering).

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with answering(self.engine), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with answering(self.engine), self.engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    def _notify(self, conn: Connection, channel: str, payload: str) -> None:
        """Tell every replica following the notices (notices.py; PostgreSQL
        delivers them on commit, once per payload per transaction). SQLite has
        one process: nothing to tell."""
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_notify(channel, payload)))

    def _queue_job(self, conn: Connection, chain_id: str, kind: str, after: Iterable[str] = (), **values) -> str:
        """A new queued job (or `state` held), remembering the request that asked for it; not
        claimable until the jobs `after` are done (it goes on without those that
        fail: store/queue.py)."""
        moment = now()
        job_id = new_id()
        values.setdefault("state", "queued")
        conn.execute(
            insert(jobs).values(
                id=job_id, chain_id=chain_id, kind=kind, attempts=0,
                request_id=request_id.current(), created_at=moment, updated_at=moment, **values,
            )
        )
        if after:
            # Those ended meanwhile are not waited on; the rest can't end before this commits.
            held = conn.execute(
                select(jobs.c.id).where(jobs.c.id.in_(list(after))).with_for_update(read=True, key_share=True)
            ).scalars()
            for awaited in held:
                conn.execute(insert(job_waits).values(job_id=job_id, on_job_id=awaited, fails_as=None))
        self._notify(conn, JOBS_CHANNEL, kind)
        return job_id

    def _append_event(
        self,
        conn: Connection,
        chain_id: str,
        kind: EventKind,
        node: Node | None = None,
        node_id: str | None = None,
        stems: StemSet | None = None,
        history: History | None = None,
        title: str | None = None,
    ) -> int:
        seq = conn.execute(
            update(chains)
            .where(chains.c.id == chain_id)
            .values(event_seq=chains.c.event_seq + 1)
            .returning(chains.c.event_seq)
        ).scalar_one()
        conn.execute(
            insert(events).values(
                chain_id=chain_id,
                seq=seq,
                kind=kind.value,
                node_id=node.id if node else node_id,
                payload={
                    "node": node_to_json(node) if node else None,
                    "stems": stems_to_json(stems) if stems else None,
                    # Only history and rename events have these.
                    **({"history": history_to_json(history)} if history else {}),
                    **({"title": title} if title is not None else {}),
                },
                created_at=now(),
            )
        )
        self._notify(conn, EVENTS_CHANNEL, chain_id)
        return seq

    def _set_node(self, conn: Connection, node_id: str, **values) -> Node | None:
        """Change a node and log the change, in the caller's write transaction;
        None when the node was discarded meanwhile."""
        chain_id = conn.execute(select(nodes.c.chain_id).where(nodes.c.id == node_id)).scalar()
        if chain_id is None:
            return None
        conn.execute(select(chains.c.id).where(chains.c.id == chain_id).with_for_update())
        conn.execute(update(nodes).where(nodes.c.id == node_id).values(updated_at=now(), **values))
        node = self._node(conn, node_id)
        self._append_event(conn, chain_id, EventKind.NODE_UPDATED, node)
        return node

    @staticmethod
    def _between(conn: Connection, first_id: str, last_id: str) -> list | None:
        """The rows of the path from `first_id` down to `last_id` (both in,
        oldest first), following `last_id`'s parents; None when `first_id` is
        not an ancestor of it (or is it)."""
        rows = []
        at = last_id
        while at is not None:
            row = conn.execute(select(nodes).where(nodes.c.id == at)).first()
            if row is None:
                return None
            rows.append(row)
            if row.id == first_id:
                return rows[::-1] if len(rows) > 1 else None
            at = row.parent_id
        return None

    @staticmethod
    def _node(conn: Connection, node_id: str) -> Node:
        """The node as it is now, in the caller's transaction."""
        return node_from_row(conn.execute(select(nodes).where(nodes.c.id == node_id)).one())
