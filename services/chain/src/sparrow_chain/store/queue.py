"""The durable job queue every kind of work goes through: takes, stems, analyses.

A job is a row of `jobs`, of one kind. Claiming takes a lease; the claimer
renews it while it works. A job whose lease ran out (its claimer died) is
claimable again. On PostgreSQL claims use FOR UPDATE SKIP LOCKED, so replicas
share the queue without waiting on each other; on SQLite, BEGIN IMMEDIATE
serializes them.

Every change after the claim (renew, progress, finish, retry, fail) names the
job and its owner, and does nothing once the job is gone (its work discarded) or
another claimer took it over after the lease ran out: a late claimer can never
undo what the current one did. That holds for every kind alike.

A job may wait on other jobs: a row of `job_waits` for each, and while any is
left it is not claimable (`claimable`), so it is neither claimed nor given back
meanwhile. Waits known when a job is queued are written with it (base.py's
`_queue_job`: takes on the bar line, and a take's analysis, on the parent's
first analysis); those its run finds (takes prompted by a stem, on the stems it
just asked for) by `wait`, which gives the claimed job back waiting.
The awaited job's finish releases its waiters in the same transaction; its
failure fails them with its reason, or releases those that go on without it
(`fails_as` NULL); any other end of it (its work discarded, its chain deleted)
releases them by the foreign key's cascade, to look again at what they need.
On PostgreSQL `wait` holds the awaited rows FOR SHARE while it writes, and
every change after the claim locks its job's row (FOR NO KEY UPDATE) before
anything else, so a wait and the end of what it waits on commit one after the
other (and always lock the awaited job before the chains they write to): the
wait on a job ended meanwhile is not written, and the job is claimable again
after a short hold (its run finds what it needs ready, or fails with why). A
job queued with its waits (under its chain's row lock, or its maker's job's)
holds the rows it waits on FOR KEY SHARE, which that lock leaves free; their
end's DELETE, which it does hold back, comes after the chain's row, so neither
waits on the other in a circle, and a wait on a row deleted meanwhile is not
written.

What is a kind's own is its adapter's (`Adapter`): which of its jobs comes next
(takes: in turns across users; analyses: a take's seam before uploads, then in
turns across users; stems: the oldest), what claiming starts, and where
progress, results, a retry and a failure land. Kinds are tried in order, takes
first. An upload's analysis past its user's bound is queued `held` (neither
claimable nor counted in the depth) and let in, its user's oldest first, by
the claims that follow (store/analyses.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from sparrow_chain.store.analyses import Analyses, ClaimedAnalysis
from sparrow_chain.store.base import ANALYSES_PER_USER, JOBS_CHANNEL, Store, claimable, now
from sparrow_chain.store.stems import ClaimedStems, StemStore
from sparrow_chain.store.tables import job_waits, jobs
from sparrow_chain.store.takes import ClaimedJob, Takes

Claimed = ClaimedJob | ClaimedStems | ClaimedAnalysis


class Adapter(Protocol):
    """What one kind of job adds to the queue (store/takes.py, store/stems.py,
    store/analyses.py); every method runs in the queue's write transaction, `conn`."""

    name: str

    def next(self, conn: Connection, moment: datetime) -> Any:
        """Its next claimable job's row (id, attempts, request_id, ...), locked; None when none."""

    def start(self, conn: Connection, row: Any, moment: datetime) -> Claimed | None:
        """Start the claimed job's work; None when nothing is left to do (the job was dropped)."""

    def progress(self, conn: Connection, job_id: str, fraction: float, eta_s: float | None) -> list:
        """Record how far the job is; what changed, for the caller to see."""

    def finish(self, conn: Connection, job_id: str, results: dict) -> list[str]:
        """Store the results; the keys of those left without a home."""

    def requeue(self, conn: Connection, job_id: str) -> None:
        """The job is back in the queue: its work is waiting again."""

    def end(self, conn: Connection, job_id: str, message: str) -> None:
        """The job failed for good, with `message`."""


class JobQueue(Store):
    """Claim, renew, progress, finish, retry and fail jobs of any kind, by job
    id and owner."""

    def __init__(self, engine: Engine, analyze: bool = False, analyses_per_user: int = ANALYSES_PER_USER):
        super().__init__(engine, analyze, analyses_per_user)
        self.takes = Takes(engine, analyze, analyses_per_user)
        self.stems = StemStore(engine)
        self.analyses = Analyses(engine, analyses_per_user)
        self.kinds: dict[str, Adapter] = {kind.name: kind for kind in (self.takes, self.stems, self.analyses)}

    def claim(self, owner: str, lease_s: float, kinds: tuple[str, ...] | None = None) -> Claimed | None:
        """The next claimable job (of `kinds`, or any; takes first), now leased to
        `owner` and its work started; None when there is nothing to do. Jobs
        whose work was discarded are dropped on the way."""
        for kind in self.kinds.values():
            if kinds is not None and kind.name not in kinds:
                continue
            if kind is self.analyses:
                self.analyses.let_in()
            while True:
                with self._write() as conn:
                    moment = now()
                    row = kind.next(conn, moment)
                    if row is None:
                        break
                    claimed = kind.start(conn, row, moment)
                    if claimed is None:
                        continue
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == row.id)
                        .values(
                            state="running", lease_owner=owner, lease_expires_at=moment + timedelta(seconds=lease_s),
                            attempts=jobs.c.attempts + 1, updated_at=moment,
                        )
                    )
                    return claimed
        return None

    def _owned(self, conn: Connection, job_id: str, owner: str) -> Adapter | None:
        """The job's kind while `owner` holds its lease, its row locked first
        (before anything its kind writes); None otherwise."""
        name = conn.execute(
            select(jobs.c.kind)
            .where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.state == "running")
            .with_for_update(key_share=True)
        ).scalar()
        return self.kinds.get(name) if name else None

    def renew(self, job_id: str, owner: str, lease_s: float) -> bool:
        """Extend a job's lease; False when the job is gone (its work was
        discarded) or another claimer took it over, and the work should stop."""
        with self._write() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.state == "running")
                .values(lease_expires_at=now() + timedelta(seconds=lease_s), updated_at=now())
            )
            return result.rowcount == 1

    def progress(self, job_id: str, owner: str, fraction: float, eta_s: float | None = None) -> list:
        """Record how far the job is, and the seconds it should still take (None
        when the worker can't tell yet); what changed (a takes job's nodes)."""
        with self._write() as conn:
            kind = self._owned(conn, job_id, owner)
            return kind.progress(conn, job_id, fraction, eta_s) if kind else []

    def finish(self, job_id: str, owner: str, results: dict) -> list[str]:
        """Store the job's results (audio by node id or by stem; an analysis) and drop the job.
        Returns the keys of `results` left without a home: discarded meanwhile,
        or every one when the lease was lost to another claimer."""
        with self._write() as conn:
            kind = self._owned(conn, job_id, owner)
            if kind is None:
                return list(results)
            orphans = kind.finish(conn, job_id, results)
            self._release(conn, job_id)
            conn.execute(delete(jobs).where(jobs.c.id == job_id))
            return orphans

    def retry(self, job_id: str, owner: str, delay_s: float, count_attempt: bool = True) -> None:
        """Give the job back to the queue, claimable after `delay_s`; its work waits again."""
        with self._write() as conn:
            kind = self._owned(conn, job_id, owner)
            if kind is None:
                return
            values = dict(state="queued", lease_owner=None, lease_expires_at=now() + timedelta(seconds=delay_s))
            if not count_attempt:
                values["attempts"] = jobs.c.attempts - 1
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=now(), **values))
            kind.requeue(conn, job_id)

    def wait(self, job_id: str, owner: str, on: list[str], fails_as: str | None, hold_s: float) -> None:
        """Give the job back to the queue waiting on the jobs `on` (their ids),
        its attempt not counted: claimable once they are done. When one fails,
        the job fails too, its message `fails_as` and their reason (None: it is
        released and goes on without). Those ended meanwhile are not waited on;
        when none is left the job is claimable after `hold_s`, to look again."""
        with self._write() as conn:
            kind = self._owned(conn, job_id, owner)
            if kind is None:
                return
            moment = now()
            awaited = conn.execute(
                select(jobs.c.id).where(jobs.c.id.in_(on), jobs.c.id != job_id).with_for_update(read=True)
            ).scalars().all()
            for awaited_id in awaited:
                conn.execute(
                    insert(job_waits).values(job_id=job_id, on_job_id=awaited_id, fails_as=fails_as)
                )
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    state="queued", lease_owner=None, attempts=jobs.c.attempts - 1, updated_at=moment,
                    lease_expires_at=None if awaited else moment + timedelta(seconds=hold_s),
                )
            )
            kind.requeue(conn, job_id)

    def waits_on(self, job_id: str) -> list[str]:
        """The ids of the jobs `job_id` waits on."""
        with self._read() as conn:
            return list(conn.execute(select(job_waits.c.on_job_id).where(job_waits.c.job_id == job_id)).scalars())

    def _release(self, conn: Connection, job_id: str) -> None:
        """The job is done: those waiting on it no longer do (claimable once
        nothing else holds them), and every replica is told so."""
        waiting = conn.execute(
            select(jobs.c.kind).join(job_waits, job_waits.c.job_id == jobs.c.id)
            .where(job_waits.c.on_job_id == job_id).distinct()
        ).scalars().all()
        conn.execute(delete(job_waits).where(job_waits.c.on_job_id == job_id))
        for kind in waiting:
            self._notify(conn, JOBS_CHANNEL, kind)

    def fail(self, job_id: str, owner: str, message: str) -> None:
        """End the job with `message`: its work in error, and that of the jobs
        that can't go on without it."""
        with self._write() as conn:
            kind = self._owned(conn, job_id, owner)
            if kind is None:
                return
            self._end(conn, job_id, kind, message)

    def _end(self, conn: Connection, job_id: str, kind: Adapter, message: str) -> None:
        """End the job with `message`, and the jobs waiting on it that need it
        with theirs (each `fails_as` and `message`); release the others."""
        conn.execute(select(jobs.c.id).where(jobs.c.id == job_id).with_for_update(key_share=True))
        kind.end(conn, job_id, message)
        waiters = conn.execute(
            select(job_waits.c.job_id, job_waits.c.fails_as, jobs.c.kind)
            .join(jobs, jobs.c.id == job_waits.c.job_id)
            .where(job_waits.c.on_job_id == job_id, job_waits.c.fails_as.is_not(None))
        ).all()
        for waiter in waiters:
            self._end(conn, waiter.job_id, self.kinds[waiter.kind], f"{waiter.fails_as}: {message}")
        self._release(conn, job_id)
        conn.execute(delete(job_waits).where(job_waits.c.job_id == job_id))
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


__all__ = ["Adapter", "Claimed", "JobQueue"]
