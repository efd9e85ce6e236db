"""Jobs that wait on other jobs, on SQLite and on the real PostgreSQL server:
takes that need stems or their parent's analysis are not claimed until those
are done, and fail with their reason when they fail (or go on without them)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import pytest

from sparrow_chain.config import Settings
from sparrow_chain.domain import AnalysisStatus, ClipAnalysis, NodeAnalysis, NodeStatus, Recipe
from sparrow_chain.grid import GridCorrection
from sparrow_chain.job import Waits
from sparrow_chain.kinds.analysis import Analysis
from sparrow_chain.kinds.takes import Takes
from sparrow_chain.store import ChainStore, JobQueue
from sparrow_common.ids import new_id

DRUMS_FAIL = "the drums stem of the path could not be made"
HEARD = NodeAnalysis(
    AnalysisStatus.READY, ClipAnalysis(tempo_bpm=120.0, beats_s=(0.5, 1.0), downbeats_s=(0.5,), meter=4, duration_s=2.0)
)


def stems_job(queue: JobQueue, node) -> str:
    """A stems job for `node`'s audio (its hash remembered, as splits.ask does), by id."""
    content_hash = f"{node.id:0<64}"[:64]
    queue.stems.remember_hash(node.id, content_hash)
    queue.stems.request(node, content_hash, "htdemucs")
    return queue.stems.job_of(content_hash, "htdemucs")


def separate(queue: JobQueue, build, job_id: str) -> None:
    """Claim the stems job `job_id` and finish it with one stem, as the dispatcher would."""
    job = queue.claim("splitter", 30, kinds=("stems",))
    assert job.id == job_id
    queue.finish(job.id, "splitter", {"drums": build.audio(f"stems/{job.content_hash}/drums.wav")})


def statuses(store: ChainStore, nodes) -> set[NodeStatus]:
    return {store.get_node("ann", n.id).status for n in nodes}


def test_a_takes_job_waiting_on_stems_is_not_claimed_until_they_are_done(store, build, queue):
    _, root = build.chain()
    takes = build.takes(root, count=2, ready=False)
    stems = stems_job(queue, root)
    job = queue.claim("me", 30, kinds=("takes",))
    queue.wait(job.id, "me", [stems], DRUMS_FAIL, hold_s=0)

    assert queue.waits_on(job.id) == [stems]
    assert queue.claim("me", 30, kinds=("takes",)) is None
    assert statuses(store, takes) == {NodeStatus.PENDING}  # shown queued, not generating
    assert queue.counts()[1].get("takes", 0) == 0  # nor counted as claimable

    separate(queue, build, stems)
    assert queue.waits_on(job.id) == []
    again = queue.claim("me", 30, kinds=("takes",))
    assert again.id == job.id and again.attempts == 1  # waiting was no attempt
    assert statuses(store, takes) == {NodeStatus.GENERATING}


def test_a_job_waiting_on_two_is_held_until_both_are_done(store, build, queue):
    _, root = build.chain()
    (parent,) = build.takes(root, ready=False)
    making = queue.claim("me", 30)
    queue.finish(making.id, "me", {parent.id: build.audio(f"{parent.chain_id}/{parent.id}.wav")})
    takes = build.takes(parent, ready=False)
    first, second = stems_job(queue, root), stems_job(queue, parent)
    job = queue.claim("me", 30, kinds=("takes",))
    queue.wait(job.id, "me", [first, second], DRUMS_FAIL, hold_s=0)

    separate(queue, build, first)
    assert queue.claim("me", 30, kinds=("takes",)) is None
    separate(queue, build, second)
    assert queue.claim("me", 30, kinds=("takes",)).id == job.id
    assert statuses(store, takes) == {NodeStatus.GENERATING}


def test_takes_that_need_stems_fail_with_the_reason_the_stems_failed(store, build, queue):
    _, root = build.chain()
    takes = build.takes(root, count=2, ready=False)
    stems = stems_job(queue, root)
    job = queue.claim("me", 30, kinds=("takes",))
    queue.wait(job.id, "me", [stems], DRUMS_FAIL, hold_s=0)

    splitting = queue.claim("splitter", 30, kinds=("stems",))
    queue.fail(splitting.id, "splitter", "stem separation failed: the model ran out of memory")

    for take in takes:
        failed = store.get_node("ann", take.id)
        assert failed.status is NodeStatus.ERROR
        assert failed.error_message == f"{DRUMS_FAIL}: stem separation failed: the model ran out of memory"
    assert queue.claim("me", 30) is None  # the takes' job went with them
    assert queue.counts()[0] == {}


def listening_chain(store, build):
    """(store, queue, root) with analysis on: the root's first analysis is on its way."""
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    chain_id, root_id = new_id(), new_id()
    _, root = listening.create_chain("ann", chain_id, root_id, "song", "song.wav", build.audio(f"{chain_id}/{root_id}.wav"))
    return listening, queue, root


def made(queue: JobQueue, build, take) -> None:
    """Claim the takes job of `take` and finish it with audio (its analysis is asked)."""
    job = queue.claim("maker", 30, kinds=("takes",))
    assert job.nodes[0].id == take.id
    queue.finish(job.id, "maker", {take.id: build.audio(f"{take.chain_id}/{take.id}.wav")})


def test_takes_on_the_bar_line_wait_from_the_start_for_their_parents_first_hearing(store, build):
    listening, queue, root = listening_chain(store, build)
    takes = listening.create_takes("ann", root.id, Recipe(align="bars"), 2)
    hearing = queue.takes.analysis_job(root.id)

    assert queue.claim("me", 30, kinds=("takes",)) is None  # never claimed meanwhile
    assert statuses(listening, takes) == {NodeStatus.PENDING}
    analysing = queue.claim("ear", 30, kinds=("analysis",))
    assert analysing.id == hearing
    queue.finish(hearing, "ear", {"analysis": HEARD})
    job = queue.claim("me", 30, kinds=("takes",))
    assert [n.id for n in job.nodes] == [t.id for t in takes] and job.attempts == 1


def test_takes_on_the_bar_line_go_on_without_their_parents_hearing_when_it_fails(store, build):
    listening, queue, root = listening_chain(store, build)
    takes = listening.create_takes("ann", root.id, Recipe(align="bars"), 1)
    assert queue.claim("me", 30, kinds=("takes",)) is None

    analysing = queue.claim("ear", 30, kinds=("analysis",))
    queue.fail(analysing.id, "ear", "analysis failed: the worker can't be reached")
    job = queue.claim("me", 30, kinds=("takes",))
    assert job.nodes[0].id == takes[0].id  # released: the takes keep to seconds, and say why
    assert statuses(listening, takes) == {NodeStatus.GENERATING}


def test_takes_in_seconds_or_after_the_hearing_wait_on_nothing(store, build):
    listening, queue, root = listening_chain(store, build)
    listening.create_takes("ann", root.id, Recipe(), 1)
    assert queue.claim("me", 30, kinds=("takes",)) is not None  # seconds need no grid

    queue.finish(queue.claim("ear", 30, kinds=("analysis",)).id, "ear", {"analysis": HEARD})
    listening.create_takes("ann", root.id, Recipe(align="bars"), 1)
    assert queue.claim("me", 30, kinds=("takes",)) is not None  # the grid is there


def test_a_takes_seam_waits_from_the_start_for_its_parents_first_hearing(store, build):
    listening, queue, root = listening_chain(store, build)
    take = listening.create_takes("ann", root.id, Recipe(), 1)[0]
    made(queue, build, take)
    parents = queue.takes.analysis_job(root.id)
    takes = queue.takes.analysis_job(take.id)
    assert queue.waits_on(takes) == [parents]

    first = queue.claim("ear", 30, kinds=("analysis",))
    assert first.id == parents and queue.claim("ear", 30, kinds=("analysis",)) is None
    queue.finish(parents, "ear", {"analysis": HEARD})
    assert queue.claim("ear", 30, kinds=("analysis",)).id == takes


def test_a_wait_on_jobs_already_ended_only_holds_the_job_back(store, build, queue):
    _, root = build.chain()
    build.takes(root, ready=False)
    job = queue.claim("me", 30, kinds=("takes",))
    queue.wait(job.id, "me", [new_id()], DRUMS_FAIL, hold_s=3600)
    assert queue.waits_on(job.id) == []
    assert queue.claim("me", 30) is None  # held back, to look again later

    build.takes(root, ready=False)
    second = queue.claim("me", 30, kinds=("takes",))
    queue.wait(second.id, "me", [new_id()], DRUMS_FAIL, hold_s=0)
    assert queue.claim("me", 30, kinds=("takes",)).id == second.id


def test_a_wait_by_a_claimer_that_lost_the_job_is_ignored(store, build, queue):
    _, root = build.chain()
    build.takes(root, ready=False)
    stems = stems_job(queue, root)
    job = queue.claim("me", 30, kinds=("takes",))
    queue.wait(job.id, "someone else", [stems], DRUMS_FAIL, hold_s=0)
    assert queue.waits_on(job.id) == [] and queue.renew(job.id, "me", 30)


def test_resolved_params_are_kept_when_the_job_is_claimed_again(store, build, queue):
    _, root = build.chain()
    takes = build.takes(root, count=2, ready=False)
    job = queue.claim("me", 30)
    assert not job.resolved
    bars = replace(job.nodes[0].recipe, prompt_duration_s=4.0, duration_s=8.0)
    queue.takes.resolve(job.id, bars, "on the bar line: 4 bars of 4/4 at 120.0 bpm")
    queue.retry(job.id, "me", 0)

    again = queue.claim("me", 30)
    assert again.id == job.id and again.resolved
    assert [(n.recipe.duration_s, n.recipe.prompt_duration_s) for n in again.nodes] == [(8.0, 4.0)] * 2
    assert [n.recipe.seed for n in again.nodes] == [n.recipe.seed for n in takes]  # each keeps its own


def test_a_wait_and_the_failure_of_what_it_waits_on_at_once_never_strand_the_takes(store, build, queue):
    """Whichever commits first, the takes end failed or claimable, never waiting on a job that is gone."""
    for _ in range(5):
        _, root = build.chain()
        takes = build.takes(root, ready=False)
        stems = stems_job(queue, root)
        job = queue.claim("me", 30, kinds=("takes",))
        splitting = queue.claim("splitter", 30, kinds=("stems",))
        barrier = threading.Barrier(2)

        def waiting():
            barrier.wait()
            queue.wait(job.id, "me", [stems], DRUMS_FAIL, hold_s=0)

        def failing():
            barrier.wait()
            queue.fail(splitting.id, "splitter", "stem separation failed: boom")

        threads = [threading.Thread(target=waiting), threading.Thread(target=failing)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert queue.waits_on(job.id) == []
        status = store.get_node("ann", takes[0].id).status
        if status is NodeStatus.PENDING:
            # The wait came second: nothing to wait on, the job is claimable to find the failure.
            assert queue.claim("me", 30, kinds=("takes",)).id == job.id
            queue.fail(job.id, "me", "cleared")
        else:
            assert status is NodeStatus.ERROR
            assert store.get_node("ann", takes[0].id).error_message == f"{DRUMS_FAIL}: stem separation failed: boom"


# -- the kinds say what they wait on --------------------------------------------


def settings() -> Settings:
    return Settings(stems_models="htdemucs")


def heard_again_before_heard(store, build):
    """(store, queue, take, bars): a take whose first hearing is on its way, and
    takes on its bar line; then a regrid of the part before it hears the take
    again under a new job, which frees the bars takes from the job they waited
    on. Their run finds the hearing still on its way, and waits on the new job."""
    listening, queue, root = listening_chain(store, build)
    queue.finish(queue.claim("ear", 30, kinds=("analysis",)).id, "ear", {"analysis": HEARD})
    take = listening.create_takes("ann", root.id, Recipe(), 1)[0]
    made(queue, build, take)
    bars = listening.create_takes("ann", take.id, Recipe(align="bars"), 1)
    assert queue.waits_on(queue.takes.analysis_job(take.id)) == []
    assert queue.claim("me", 30, kinds=("takes",)) is None
    listening.set_grid("ann", root.id, GridCorrection(tempo_bpm=100.0))
    return listening, queue, take, bars


def test_takes_aligned_to_bars_whose_wait_was_replaced_wait_on_the_new_hearing(store, build):
    _, queue, take, bars = heard_again_before_heard(store, build)
    kind = Takes(None, queue.takes, queue.stems, None, None, settings(), on_change=lambda _: None)
    job = queue.claim("me", 30, kinds=("takes",))
    assert job.nodes[0].id == bars[0].id

    with pytest.raises(Waits) as waits:
        asyncio.run(kind.run(job, None))
    assert waits.value.on == [queue.takes.analysis_job(take.id)] and waits.value.fails_as is None


def test_takes_prompted_by_a_stem_wait_on_the_stems_of_the_path(store, build, queue):
    _, root = build.chain()
    queue.stems.remember_hash(root.id, "a" * 64)  # splits.ask hashes the audio once; here it is known
    store.create_takes("ann", root.id, Recipe(prompt_source="drums"), 1)
    kind = Takes(None, queue.takes, queue.stems, None, None, settings(), on_change=lambda _: None)
    job = queue.claim("me", 30, kinds=("takes",))

    with pytest.raises(Waits) as waits:
        asyncio.run(kind.run(job, None))
    assert waits.value.on == [queue.stems.job_of("a" * 64, "htdemucs")]
    assert waits.value.fails_as == DRUMS_FAIL


def test_a_takes_seam_whose_wait_was_replaced_waits_on_the_new_hearing(store, build):
    listening, queue, root = listening_chain(store, build)
    queue.finish(queue.claim("ear", 30, kinds=("analysis",)).id, "ear", {"analysis": HEARD})
    take = listening.create_takes("ann", root.id, Recipe(), 1)[0]
    made(queue, build, take)  # its first hearing is on its way
    child = listening.create_takes("ann", take.id, Recipe(), 1)[0]
    made(queue, build, child)
    first = queue.takes.analysis_job(take.id)
    assert queue.waits_on(queue.takes.analysis_job(child.id)) == [first]
    # A regrid of the root hears its take anew, under a new job: the child's wait is freed.
    listening.set_grid("ann", root.id, GridCorrection(tempo_bpm=100.0))
    kind = Analysis(None, queue.takes, None, None, settings(), on_change=lambda _: None)
    job = queue.claim("me", 30, kinds=("analysis",))
    while job.node_id != child.id:  # the take's new hearing may come first
        job = queue.claim("me", 30, kinds=("analysis",))

    with pytest.raises(Waits) as waits:
        asyncio.run(kind.run(job, None))
    anew = queue.takes.analysis_job(take.id)
    assert waits.value.on == [anew] and anew != first and waits.value.fails_as is None


def test_jobs_queued_under_the_kinds_old_names_are_claimed_by_their_one_name(upgraded_from, old_root):
    from datetime import UTC, datetime

    from sqlalchemy import text

    moment = datetime.now(UTC)

    def fill(conn):
        old_root(conn, moment)
        for job_id, kind in (("g", "generate"), ("a", "analyze")):
            conn.execute(
                text(
                    "INSERT INTO jobs (id, chain_id, kind, state, attempts, created_at, updated_at, node_id) "
                    "VALUES (:id, 'c', :kind, 'queued', 0, :t, :t, 'r')"
                ),
                {"id": job_id, "kind": kind, "t": moment},
            )
        conn.execute(
            text(
                "INSERT INTO nodes (id, chain_id, parent_id, job_id, status, committed, error_message, progress, "
                "filename, created_at, updated_at, note, params) "
                "VALUES ('t', 'c', 'r', 'g', 'pending', false, '', 0, '', :t, :t, '', :params)"
            ),
            {"t": moment, "params": '{"seed": 7}'},
        )

    with upgraded_from("0010", fill) as engine:
        queue = JobQueue(engine, analyze=True)
        takes = queue.claim("me", 30, kinds=("takes",))
        assert takes.id == "g" and [n.id for n in takes.nodes] == ["t"]
        assert queue.claim("me", 30, kinds=("analysis",)).id == "a"
