"""Stems: cached by the content of the audio they came from and the model that
splits it, made by stems jobs on the same durable queue as takes and analyses
(store/queue.py). Claiming a stems job sets its set `separating`; progress,
results, a retry and a failure land on the set, and every chain holding its
audio is told of each change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from sparrow_chain.domain import EventKind, Node, StemSet, StemsStatus, StoredAudio
from sparrow_chain.store.base import Store, claimable, now
from sparrow_chain.store.tables import jobs, nodes, stem_files, stem_sets

STEMS = "stems"


@dataclass(frozen=True)
class ClaimedStems:
    """A stems job, claimed."""

    kind = STEMS
    id: str
    content_hash: str
    attempts: int
    # A blob holding the audio to separate.
    source_key: str
    # The stems model to split it with.
    model: str = ""
    request_id: str = ""
    # The chain that asked (others holding the same audio hear of it by polling).
    chain_id: str = ""


class StemStore(Store):
    """Stem sets and their files, and the stems kind of job (its adapter for the queue)."""

    name = STEMS

    # -- reading ---------------------------------------------------------------

    def _set(self, conn: Connection, content_hash: str, model: str) -> StemSet | None:
        row = conn.execute(
            select(stem_sets).where(stem_sets.c.content_hash == content_hash, stem_sets.c.model == model)
        ).first()
        if row is None:
            return None
        files = {
            f.stem: StoredAudio(
                f.audio_key, f.audio_format, f.content_type, f.sample_rate, f.channels, f.duration_s, f.size_bytes
            )
            for f in conn.execute(
                select(stem_files)
                .where(stem_files.c.content_hash == content_hash, stem_files.c.model == model)
                .order_by(stem_files.c.position, stem_files.c.stem)
            )
        }
        return StemSet(content_hash, StemsStatus(row.status), row.progress, row.error_message, files, model)

    def get(self, content_hash: str | None, model: str) -> StemSet:
        """The stems of this audio by `model`; status NONE when nobody asked yet."""
        if content_hash is None:
            return StemSet("", StemsStatus.NONE, model=model)
        with self._read() as conn:
            return self._set(conn, content_hash, model) or StemSet(content_hash, StemsStatus.NONE, model=model)

    def hash_of(self, node_id: str) -> str | None:
        """The node's audio hash, if stems were ever asked for it."""
        with self._read() as conn:
            return conn.execute(select(nodes.c.audio_sha256).where(nodes.c.id == node_id)).scalar()

    def job_of(self, content_hash: str, model: str) -> str | None:
        """The id of the job making the set, while it is queued or running."""
        with self._read() as conn:
            return conn.execute(
                select(jobs.c.id)
                .where(jobs.c.kind == STEMS, jobs.c.stem_hash == content_hash, jobs.c.stem_model == model)
                .limit(1)
            ).scalar()

    def remember_hash(self, node_id: str, content_hash: str) -> None:
        with self._write() as conn:
            conn.execute(update(nodes).where(nodes.c.id == node_id).values(audio_sha256=content_hash))

    # -- asking ---------------------------------------------------------------

    def request(self, node: Node, content_hash: str, model: str) -> StemSet:
        """Stems of the node's audio by `model`: the cached set when there is one
        (ready or on its way), else a new pending set and a stems job. A set that
        failed is tried again."""
        with self._write() as conn:
            existing = self._set(conn, content_hash, model)
            if existing is not None and existing.status is not StemsStatus.ERROR:
                return existing
            moment = now()
            if existing is None:
                conn.execute(
                    insert(stem_sets).values(
                        content_hash=content_hash, model=model, status=StemsStatus.PENDING.value, progress=0.0,
                        error_message="", created_at=moment, updated_at=moment,
                    )
                )
            self._queue_job(conn, node.chain_id, STEMS, stem_hash=content_hash, stem_model=model, node_id=node.id)
            return self._change(
                conn, content_hash, model, status=StemsStatus.PENDING.value, progress=0.0, error_message=""
            )

    def _change(self, conn: Connection, content_hash: str, model: str, **values) -> StemSet:
        """Update the set and tell every chain holding this audio."""
        conn.execute(
            update(stem_sets)
            .where(stem_sets.c.content_hash == content_hash, stem_sets.c.model == model)
            .values(updated_at=now(), **values)
        )
        stems = self._set(conn, content_hash, model)
        holders = conn.execute(
            select(nodes.c.id, nodes.c.chain_id).where(nodes.c.audio_sha256 == content_hash)
        ).all()
        for holder in holders:
            self._append_event(conn, holder.chain_id, EventKind.STEMS_UPDATED, node_id=holder.id, stems=stems)
        return stems

    def sweep_unheld(self) -> list[str]:
        """Forget the stems of audio no node holds any more (its chains were
        deleted or its nodes discarded); returns their blob keys to delete."""
        with self._write() as conn:
            held = select(nodes.c.id).where(nodes.c.audio_sha256 == stem_sets.c.content_hash).exists()
            unheld = conn.execute(select(stem_sets.c.content_hash).where(~held)).scalars().all()
            if not unheld:
                return []
            keys = conn.execute(
                select(stem_files.c.audio_key).where(stem_files.c.content_hash.in_(unheld))
            ).scalars().all()
            conn.execute(delete(jobs).where(jobs.c.stem_hash.in_(unheld)))
            conn.execute(delete(stem_files).where(stem_files.c.content_hash.in_(unheld)))
            conn.execute(delete(stem_sets).where(stem_sets.c.content_hash.in_(unheld)))
            return list(keys)

    # -- the queue's adapter ----------------------------------------------------

    def next(self, conn: Connection, moment: datetime):
        """Its next claimable job, locked: the oldest."""
        return conn.execute(
            select(jobs.c.id, jobs.c.chain_id, jobs.c.stem_hash, jobs.c.stem_model, jobs.c.attempts, jobs.c.request_id)
            .where(jobs.c.kind == STEMS, claimable(moment))
            .order_by(jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()

    def start(self, conn: Connection, row, moment: datetime) -> ClaimedStems | None:
        """The set starts `separating`; None when every node with this audio is
        gone (the job and the set are dropped)."""
        source = conn.execute(
            select(nodes.c.audio_key).where(nodes.c.audio_sha256 == row.stem_hash).limit(1)
        ).scalar()
        if source is None:
            conn.execute(delete(jobs).where(jobs.c.id == row.id))
            conn.execute(
                delete(stem_sets).where(stem_sets.c.content_hash == row.stem_hash, stem_sets.c.model == row.stem_model)
            )
            return None
        self._change(conn, row.stem_hash, row.stem_model, status=StemsStatus.SEPARATING.value, progress=0.0)
        return ClaimedStems(
            row.id, row.stem_hash, row.attempts + 1, source, row.stem_model, row.request_id, row.chain_id
        )

    def _set_of_job(self, conn: Connection, job_id: str) -> tuple[str, str]:
        """(content hash, model) of the set a stems job makes."""
        return tuple(conn.execute(select(jobs.c.stem_hash, jobs.c.stem_model).where(jobs.c.id == job_id)).one())

    def progress(self, conn: Connection, job_id: str, fraction: float, eta_s: float | None) -> list:
        self._change(conn, *self._set_of_job(conn, job_id), progress=fraction)
        return []

    def finish(self, conn: Connection, job_id: str, files: dict[str, StoredAudio]) -> list[str]:
        """The stems stored (by name, in the model's order), the set ready;
        nothing is left without a home."""
        content_hash, model = self._set_of_job(conn, job_id)
        conn.execute(
            delete(stem_files).where(stem_files.c.content_hash == content_hash, stem_files.c.model == model)
        )
        for position, (stem, audio) in enumerate(files.items()):
            conn.execute(
                insert(stem_files).values(
                    content_hash=content_hash, model=model, stem=stem, position=position,
                    audio_key=audio.key, audio_format=audio.format,
                    content_type=audio.content_type, sample_rate=audio.sample_rate, channels=audio.channels,
                    duration_s=audio.duration_s, size_bytes=audio.size_bytes,
                )
            )
        self._change(conn, content_hash, model, status=StemsStatus.READY.value, progress=1.0, error_message="")
        return []

    def requeue(self, conn: Connection, job_id: str) -> None:
        self._change(conn, *self._set_of_job(conn, job_id), status=StemsStatus.PENDING.value, progress=0.0)

    def end(self, conn: Connection, job_id: str, message: str) -> None:
        self._change(conn, *self._set_of_job(conn, job_id), status=StemsStatus.ERROR.value, error_message=message)
