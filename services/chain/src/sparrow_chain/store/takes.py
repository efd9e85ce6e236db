"""The takes' kind of job: a generation call for a batch of sibling nodes.

Claims are fair across users: the next takes job is the oldest of the user
served least recently (the `turns` table keeps when each user's last job was
claimed), so a user who queues fifty takes holds another's one take behind one
of theirs, not fifty. Claiming sets the takes `generating`; progress, results,
a retry and a failure land on them. The lease itself is the queue's
(store/queue.py), as for every kind, and so are its waits: a takes job waiting
on its parent's analysis or on stems is not claimed until they are done.
A job's recipe is resolved (set to bars) once, with the job marked `resolved`
in the same transaction, so a retry makes its takes with the same recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, literal, select, update

from sparrow_chain.domain import Melody, Node, NodeStatus, Recipe, StemsStatus, StoredAudio
from sparrow_chain.store.base import ANALYSIS, Store, claimable, upsert
from sparrow_chain.store.convert import audio_columns, node_from_row
from sparrow_chain.store.tables import chains, jobs, nodes, stem_files, stem_sets, turns

TAKES = "takes"
# A user whose job was never claimed comes before everyone served since.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ClaimedJob:
    """A takes job, claimed."""

    kind = TAKES
    id: str
    chain_id: str
    attempts: int
    # The takes to write, oldest first; all siblings of one parent.
    nodes: list[Node]
    request_id: str = ""
    # Its recipe was resolved on a claim before (kept as it is).
    resolved: bool = False

    @property
    def parent_id(self) -> str:
        return self.nodes[0].parent_id


class Takes(Store):
    """The takes kind of job (its adapter for the queue), and what its work reads."""

    name = TAKES

    def next(self, conn: Connection, moment: datetime):
        """Its next claimable job, locked: the user served longest ago (or never)
        first, then their oldest."""
        turn = select(turns.c.last_claimed_at).where(turns.c.owner_id == chains.c.owner_id)
        return conn.execute(
            select(jobs.c.id, jobs.c.chain_id, jobs.c.attempts, jobs.c.request_id, jobs.c.resolved, chains.c.owner_id)
            .join_from(jobs, chains, chains.c.id == jobs.c.chain_id)
            .where(jobs.c.kind == TAKES, claimable(moment))
            .order_by(func.coalesce(turn.scalar_subquery(), NEVER), jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True, of=jobs)
        ).first()

    def start(self, conn: Connection, row, moment: datetime) -> ClaimedJob | None:
        """The user's turn is taken and the takes start `generating`; None when
        every take of the job was discarded (the job is dropped)."""
        self._take_turn(conn, row.owner_id, moment)
        members = self._members(conn, row.id)
        if not members:
            conn.execute(delete(jobs).where(jobs.c.id == row.id))
            return None
        started = [
            self._set_node(conn, n.id, status=NodeStatus.GENERATING.value, progress=0.0, eta_s=None, error_message="")
            for n in members
        ]
        return ClaimedJob(row.id, row.chain_id, row.attempts + 1, started, row.request_id, row.resolved)

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

    def progress(self, conn: Connection, job_id: str, fraction: float, eta_s: float | None) -> list[Node]:
        changed = (self._set_node(conn, m.id, progress=fraction, eta_s=eta_s) for m in self._members(conn, job_id))
        return [n for n in changed if n is not None]

    def finish(self, conn: Connection, job_id: str, results: dict[str, StoredAudio]) -> list[str]:
        """Each node's audio (by node id) stored and the node ready; the node ids
        discarded meanwhile, whose audio has no home."""
        orphans = []
        chain_id = conn.execute(select(jobs.c.chain_id).where(jobs.c.id == job_id)).scalar_one()
        # A take sent to the bin while it was made left the job: its audio has no home.
        members = {m.id for m in self._members(conn, job_id)}
        for node_id, audio in results.items():
            if node_id not in members:
                orphans.append(node_id)
                continue
            self._set_node(
                conn, node_id, status=NodeStatus.READY.value, progress=1.0, eta_s=None, error_message="",
                **audio_columns(audio), **self._analysis_asked(conn, chain_id, node_id),
            )
        conn.execute(update(nodes).where(nodes.c.job_id == job_id).values(job_id=None))
        return orphans

    def requeue(self, conn: Connection, job_id: str) -> None:
        for member in self._members(conn, job_id):
            self._set_node(conn, member.id, status=NodeStatus.PENDING.value, progress=0.0, eta_s=None)

    def end(self, conn: Connection, job_id: str, message: str) -> None:
        for member in self._members(conn, job_id):
            self._set_node(conn, member.id, status=NodeStatus.ERROR.value, eta_s=None, error_message=message)
        conn.execute(update(nodes).where(nodes.c.job_id == job_id).values(job_id=None))

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

    def node(self, node_id: str) -> Node | None:
        with self._read() as conn:
            row = conn.execute(select(nodes).where(nodes.c.id == node_id)).first()
        return node_from_row(row) if row is not None else None

    def path_between(self, first_id: str, last_id: str) -> list[Node]:
        """The parts from `first_id` down to `last_id`, oldest first ([] when
        the one is not the other's ancestor)."""
        with self._read() as conn:
            rows = self._between(conn, first_id, last_id) or []
        return [node_from_row(row) for row in rows]

    def resolve(self, job_id: str, recipe: Recipe, note: str) -> None:
        """The job's takes are made with `recipe` (their prompt and length set
        to bars) and say how in `note`; each seed stays its own. The job is
        resolved: a later claim keeps them."""
        with self._write() as conn:
            for member in self._members(conn, job_id):
                made = replace(recipe, seed=member.recipe.seed)
                self._set_node(conn, member.id, params=asdict(made), note=note)
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(resolved=True))

    def analysis_job(self, node_id: str) -> str | None:
        """The id of the node's analysis job, while it is queued or running."""
        with self._read() as conn:
            return conn.execute(
                select(jobs.c.id).where(jobs.c.kind == ANALYSIS, jobs.c.node_id == node_id).limit(1)
            ).scalar()

    def context_path(self, parent_id: str, seconds: float, from_s: float | None = None) -> list[Heard]:
        """What the last `seconds` of the path ending at `parent_id` (at `from_s`
        into it, or its end) are heard from, oldest first: the parent, and its
        ancestors as far back as needed when the parent alone is shorter. Each
        ancestor is heard up to where the path's next node continues from it,
        and each from its in point."""
        path = select(nodes.c.id, nodes.c.parent_id, literal(0).label("depth")).where(nodes.c.id == parent_id)
        path = path.cte("path", recursive=True)
        path = path.union_all(
            select(nodes.c.id, nodes.c.parent_id, (path.c.depth + 1).label("depth")).join(
                path, nodes.c.id == path.c.parent_id
            )
        )
        with self._read() as conn:
            rows = conn.execute(select(nodes).join(path, path.c.id == nodes.c.id).order_by(path.c.depth)).all()
        chosen: list[Heard] = []
        heard = 0.0
        end = from_s
        for row in rows:
            node = node_from_row(row)
            if node.audio is None:
                break
            chosen.append(Heard(node, end, node.in_s))
            heard += (end if end is not None else node.audio.duration_s) - (node.in_s or 0.0)
            if heard >= seconds:
                break
            end = node.from_s  # the node before it is heard up to where this one continues
        return chosen[::-1]


@dataclass(frozen=True)
class Heard:
    """A node of a path, heard from `start_s` (None: its first sample) up to
    `end_s` (None: to its end)."""

    node: Node
    end_s: float | None = None
    start_s: float | None = None

    @property
    def seconds(self) -> float:
        """How much of it the path plays."""
        end = self.end_s if self.end_s is not None else self.node.audio.duration_s
        return end - (self.start_s or 0.0)


def ready_stem(conn: Connection, content_hash: str, stem: str, model: str | None = None):
    """The stem file `stem` of the audio `content_hash` in a ready set (by
    `model`, or by whichever model made one, the first by name); else None."""
    query = (
        select(stem_files)
        .join(
            stem_sets,
            (stem_sets.c.content_hash == stem_files.c.content_hash) & (stem_sets.c.model == stem_files.c.model),
        )
        .where(
            stem_files.c.content_hash == content_hash,
            stem_files.c.stem == stem,
            stem_sets.c.status == StemsStatus.READY.value,
        )
        .order_by(stem_files.c.model)
    )
    if model is not None:
        query = query.where(stem_files.c.model == model)
    return conn.execute(query).first()
