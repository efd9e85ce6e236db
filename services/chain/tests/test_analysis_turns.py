"""Analysis jobs on SQLite and on the real PostgreSQL server: claimed in turns
across users, a take's seam report (and the hearing it waits on) ahead of
uploads, and at most a few of a user's uploads in the queue at once, the rest
held their turn and none lost."""

from __future__ import annotations

import threading

from sparrow_chain.domain import AnalysisStatus, ClipAnalysis, NodeAnalysis, Recipe
from sparrow_chain.store import ChainStore, JobQueue
from sparrow_common.ids import new_id

HEARD = NodeAnalysis(AnalysisStatus.READY, ClipAnalysis(tempo_bpm=120.0, beats_s=(0.5, 1.0), meter=4, duration_s=2.0))


def upload(listening: ChainStore, build, owner: str):
    """A chain `owner` uploads: its root, whose analysis is asked."""
    chain_id, root_id = new_id(), new_id()
    return listening.create_chain(owner, chain_id, root_id, "song", "song.wav", build.audio(f"{chain_id}/{root_id}.wav"))[1]


def hear_next(queue: JobQueue, replica: str = "me") -> str | None:
    """Claim the next analysis and finish it, as the dispatcher would: its node's id."""
    job = queue.claim(replica, 30, kinds=("analysis",))
    if job is None:
        return None
    queue.finish(job.id, replica, {"analysis": HEARD})
    return job.node_id


def take_ready(listening: ChainStore, queue: JobQueue, build, owner: str, parent) -> str:
    """A take of `parent`, made and stored (its analysis, the seam report, asked): its id."""
    (take,) = listening.create_takes(owner, parent.id, Recipe(), 1)
    made = queue.claim("me", 30, kinds=("takes",))
    queue.finish(made.id, "me", {take.id: build.audio(f"{parent.chain_id}/{take.id}.wav")})
    return take.id


def test_one_users_burst_of_uploads_holds_anothers_one_analysis_behind_one_of_theirs(store, build):
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    anns = [upload(listening, build, "ann").id for _ in range(6)]
    bobs = upload(listening, build, "bob").id

    heard = [hear_next(queue) for _ in range(7)]
    assert heard.index(bobs) <= 1  # not seventh, behind all of ann's
    assert sorted(heard) == sorted([*anns, bobs]) and hear_next(queue) is None


def test_a_takes_seam_report_comes_before_uploads_queued_earlier(store, build):
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    root = upload(listening, build, "carol")
    assert hear_next(queue) == root.id
    uploads = [upload(listening, build, owner).id for owner in ("ann", "bob", "ann", "bob")]
    take = take_ready(listening, queue, build, "carol", root)

    assert hear_next(queue) == take
    assert sorted(hear_next(queue) for _ in uploads) == sorted(uploads)


def test_the_upload_a_takes_seam_waits_on_comes_before_others_queued_earlier(store, build):
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    uploads = [upload(listening, build, "bob").id for _ in range(3)]
    root = upload(listening, build, "carol")
    take = take_ready(listening, queue, build, "carol", root)  # its seam waits on the root's first hearing

    assert [hear_next(queue), hear_next(queue)] == [root.id, take]
    assert sorted(hear_next(queue) for _ in uploads) == sorted(uploads)


def test_past_the_bound_a_users_uploads_are_held_their_turn_and_none_is_lost(store, build):
    listening = ChainStore(store.engine, analyze=True, analyses_per_user=2)
    queue = JobQueue(store.engine, analyze=True, analyses_per_user=2)
    anns = [upload(listening, build, "ann").id for _ in range(5)]
    bobs = [upload(listening, build, "bob").id for _ in range(3)]

    by_state, claimable = queue.counts()
    assert claimable["analysis"] == 4  # two of each user's in the queue
    assert by_state[("analysis", "held")] == 4  # the rest held, not dropped
    for node_id in anns:  # each upload stands, its analysis waiting its turn
        assert listening.get_node("ann", node_id).analysis.status is AnalysisStatus.PENDING

    heard = []
    while (node_id := hear_next(queue)) is not None:
        heard.append(node_id)
        assert queue.counts()[1].get("analysis", 0) <= 4
    assert sorted(heard) == sorted([*anns, *bobs])  # every one heard, once
    assert heard.index(anns[0]) < heard.index(anns[4])  # a user's own in the order uploaded
    for node_id in anns:
        assert listening.get_node("ann", node_id).analysis.status is AnalysisStatus.READY


def test_a_held_upload_that_a_take_waits_on_is_heard_first(store, build):
    listening = ChainStore(store.engine, analyze=True, analyses_per_user=1)
    queue = JobQueue(store.engine, analyze=True, analyses_per_user=1)
    first, _, held = (upload(listening, build, "ann") for _ in range(3))
    take = take_ready(listening, queue, build, "ann", held)

    assert [hear_next(queue), hear_next(queue)] == [held.id, take]
    assert hear_next(queue) == first.id


def test_replicas_claiming_at_once_hear_every_held_upload_once(store, build):
    listening = ChainStore(store.engine, analyze=True, analyses_per_user=1)
    uploads = [upload(listening, build, owner).id for owner in ("ann", "bob", "carol") for _ in range(4)]
    replicas = [JobQueue(store.engine, analyze=True, analyses_per_user=1) for _ in range(3)]
    heard: list[str] = []

    def replica(queue: JobQueue, name: str) -> None:
        while (node_id := hear_next(queue, name)) is not None:
            heard.append(node_id)

    threads = [threading.Thread(target=replica, args=(queue, f"replica{i}")) for i, queue in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(heard) == sorted(uploads)  # each once, none left held
    assert JobQueue(store.engine).counts()[0] == {}


def test_two_uploads_racing_for_a_users_last_place_in_the_queue_take_it_once(store, build):
    """Each upload counts its user's queued analyses and waits (up to a second)
    for the other to have counted too before writing its job: without a lock
    both counted one place left and both took it."""
    bound = 2
    listening = ChainStore(store.engine, analyze=True, analyses_per_user=bound)
    upload(listening, build, "ann")  # one place left
    both_counted = threading.Barrier(2)

    def racing() -> ChainStore:
        replica = ChainStore(store.engine, analyze=True, analyses_per_user=bound)
        counted = replica._queued_analyses

        def count_then_wait(conn, owner):
            n = counted(conn, owner)
            try:
                both_counted.wait(timeout=1.0)
            except threading.BrokenBarrierError:
                pass  # the other is waiting its turn to count: as it should
            return n

        replica._queued_analyses = count_then_wait
        return replica

    replicas = [racing(), racing()]
    threads = [threading.Thread(target=upload, args=(replica, build, "ann")) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    by_state = JobQueue(store.engine).counts()[0]
    assert by_state[("analysis", "queued")] == bound and by_state[("analysis", "held")] == 1
