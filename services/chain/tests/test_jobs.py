"""The job queue on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
import time

from sparrow_chain.domain import NodeStatus, Recipe
from sparrow_chain.store import JobQueue



def claim_all_at_once(queue: JobQueue, claimers: int) -> list[str]:
    """Every job's id as `claimers` threads, started together, claimed them."""
    claimed: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(claimers)

    def claimer(name: str) -> None:
        barrier.wait()
        while (job := queue.claim(name, 30)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"replica-{i}",)) for i in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return claimed


def test_claim_leases_the_oldest_job_and_starts_its_takes(store, build, queue):
    _, root = build.chain()
    first = build.takes(root, count=3, ready=False)
    build.takes(root, count=1, ready=False)
    job = queue.claim("me", lease_s=30)
    assert [n.id for n in job.nodes] == [n.id for n in first] and job.attempts == 1
    assert {store.get_node("ann", n.id).status for n in first} == {NodeStatus.GENERATING}
    second = queue.claim("me", lease_s=30)
    assert second.id != job.id
    assert queue.claim("me", lease_s=30) is None  # both leased


def test_a_job_whose_lease_ran_out_is_claimed_again(build, queue):
    _, root = build.chain()
    build.takes(root, ready=False)
    job = queue.claim("dead replica", lease_s=0.2)
    time.sleep(0.3)
    again = queue.claim("live replica", lease_s=30)
    assert again.id == job.id and again.attempts == 2
    assert not queue.renew(job.id, "dead replica", 30)  # the old owner lost it
    assert queue.renew(job.id, "live replica", 30)


def test_finish_stores_audio_and_reports_discarded_takes(store, build, queue):
    _, root = build.chain()
    a, b = build.takes(root, count=2, ready=False)
    job = queue.claim("me", 30)
    store.discard("ann", b.id)
    orphans = queue.finish(job.id, "me", {a.id: build.audio("a.wav"), b.id: build.audio("b.wav")})
    assert orphans == [b.id]
    assert store.get_node("ann", a.id).status is NodeStatus.READY
    assert queue.claim("me", 30) is None


def test_discarding_every_take_ends_the_job(store, build, queue):
    _, root = build.chain()
    (take,) = build.takes(root, ready=False)
    job = queue.claim("me", 30)
    store.discard("ann", take.id)
    assert not queue.renew(job.id, "me", 30)


def test_retry_and_fail(store, build, queue):
    _, root = build.chain()
    (take,) = build.takes(root, ready=False)
    job = queue.claim("me", 30)
    given_back = time.monotonic()
    queue.retry(job.id, "me", delay_s=2.0)
    assert store.get_node("ann", take.id).status is NodeStatus.PENDING
    early = queue.claim("me", 30)
    # Not before its delay (unless this machine took the whole delay to get here).
    assert early is None or time.monotonic() - given_back >= 2.0
    while (job := early or queue.claim("me", 30)) is None:
        assert time.monotonic() - given_back < 10
        time.sleep(0.1)
    queue.fail(job.id, "me", "the model exploded")
    node = store.get_node("ann", take.id)
    assert node.status is NodeStatus.ERROR and node.error_message == "the model exploded"
    assert queue.claim("me", 30) is None


def test_concurrent_claimers_never_share_a_job(build, queue):
    _, root = build.chain()
    for _ in range(6):
        build.takes(root, ready=False)
    claimed = claim_all_at_once(queue, claimers=3)
    assert len(claimed) == 6 and len(set(claimed)) == 6


def test_context_reaches_back_into_ancestors_when_the_parent_is_short(store, build, queue):
    chain, root = build.chain(seconds=4.0)
    (a,) = build.takes(root, seconds=3.0)
    store.commit("ann", a.id)
    (b,) = build.takes(a, seconds=2.0)
    assert [h.node.id for h in queue.takes.context_path(b.id, 1.5)] == [b.id]
    assert [h.node.id for h in queue.takes.context_path(b.id, 4.0)] == [a.id, b.id]
    assert [h.node.id for h in queue.takes.context_path(b.id, 30.0)] == [root.id, a.id, b.id]


def test_a_path_through_a_take_from_a_point_hears_its_parent_up_to_that_point(store, build, queue):
    chain, root = build.chain(seconds=4.0)
    (a,) = build.takes(root, seconds=3.0, from_s=1.5)
    assert a.from_s == 1.5
    # Heard from a take of `a` at 2 s: all of the root up to 1.5 s, then `a` up to 2 s.
    heard = queue.takes.context_path(a.id, 30.0, from_s=2.0)
    assert [(h.node.id, h.end_s) for h in heard] == [(root.id, 1.5), (a.id, 2.0)]
    # 3 s before `a`'s end reach 1 s back into the root, before its out point.
    heard = queue.takes.context_path(a.id, 3.5)
    assert [(h.node.id, h.end_s) for h in heard] == [(root.id, 1.5), (a.id, None)]


def test_takes_keep_the_parameters_they_were_asked_with(store, build, queue):
    _, root = build.chain()
    store.create_takes("ann", root.id, Recipe(prompt="tape hiss", seed=5), 2)
    job = queue.claim("me", 30)
    assert [n.recipe.seed for n in job.nodes] == [5, 6] and job.nodes[0].recipe.prompt == "tape hiss"


def test_stems_are_shared_by_content_and_forgotten_with_the_last_node_holding_it(store, build):
    from sparrow_chain.domain import StemsStatus
    from sparrow_chain.store import StemStore

    stems = StemStore(store.engine)
    first, first_root = build.chain()
    second, second_root = build.chain()
    for root in (first_root, second_root):  # the same audio uploaded twice
        stems.remember_hash(root.id, "f" * 64)
    asked = stems.request(first_root, "f" * 64, "htdemucs")
    assert asked.status is StemsStatus.PENDING
    assert stems.request(second_root, "f" * 64, "htdemucs").status is StemsStatus.PENDING  # no second job
    queue = JobQueue(store.engine)
    job = queue.claim("me", 30, kinds=("stems",))
    assert queue.claim("me", 30, kinds=("stems",)) is None
    files = {name: build.audio(f"stems/{'f' * 64}/{name}.wav") for name in ("drums", "bass", "other", "vocals")}
    assert queue.finish(job.id, "me", files) == []  # every stem stored
    assert stems.get("f" * 64, "htdemucs").status is StemsStatus.READY
    kinds = [e.kind.value for e in store.events_after(second.id, 0)]
    assert "stems.updated" in kinds  # the other chain holding the audio hears of it too

    store.delete_chain("ann", first.id)
    assert stems.sweep_unheld() == []  # the second chain still holds the audio
    store.delete_chain("ann", second.id)
    assert sorted(stems.sweep_unheld()) == sorted(a.key for a in files.values())
    assert stems.get("f" * 64, "htdemucs").status is StemsStatus.NONE


def test_a_four_and_a_six_stem_set_of_the_same_audio_live_side_by_side(store, build):
    from sparrow_chain.domain import StemsStatus
    from sparrow_chain.store import StemStore

    stems = StemStore(store.engine)
    _, root = build.chain()
    stems.remember_hash(root.id, "e" * 64)
    queue = JobQueue(store.engine)
    made = {}
    for model, names in (("htdemucs", ["drums", "bass", "other", "vocals"]),
                         ("htdemucs_6s", ["drums", "bass", "other", "vocals", "guitar", "piano"])):
        assert stems.request(root, "e" * 64, model).status is StemsStatus.PENDING
        job = queue.claim("me", 30, kinds=("stems",))
        assert (job.content_hash, job.model) == ("e" * 64, model)
        made[model] = {name: build.audio(f"stems/{'e' * 64}/{model}/{name}.wav") for name in names}
        assert queue.finish(job.id, "me", made[model]) == []
    for model, files in made.items():
        ready = stems.get("e" * 64, model)
        assert ready.status is StemsStatus.READY and ready.model == model
        assert list(ready.files) == list(files)  # in the model's order
        assert [a.key for a in ready.files.values()] == [a.key for a in files.values()]
    # Asking again for either is free: the cached set, no job.
    assert stems.request(root, "e" * 64, "htdemucs_6s").status is StemsStatus.READY
    assert queue.claim("me", 30, kinds=("stems",)) is None


def test_claims_take_turns_across_users(store, build, queue):
    """Ann queues six takes, then Bob one: Bob's is claimed second, not seventh."""
    _, ann_root = build.chain("ann")
    ann = [build.takes(ann_root, ready=False)[0].id for _ in range(6)]
    _, bob_root = build.chain("bob")
    (bob,) = (n.id for n in build.takes(bob_root, owner="bob", ready=False))
    claimed = []
    while (job := queue.claim("me", 30)) is not None:
        claimed.append(job.nodes[0].id)
        queue.finish(job.id, "me", {job.nodes[0].id: build.audio(f"{job.chain_id}/{job.nodes[0].id}.wav")})
    assert claimed == [ann[0], bob, *ann[1:]]
    # Once Bob has been served, Ann's next take and Bob's next alternate.
    for _ in range(2):
        build.takes(ann_root, ready=False)
    bob_again = build.takes(bob_root, owner="bob", ready=False)[0].id
    order = [queue.claim("me", 30).nodes[0].id for _ in range(3)]
    assert order.index(bob_again) <= 1


def test_claimers_at_once_never_take_the_same_job_across_users(store, build, queue):
    for owner in ("ann", "bob", "carol"):
        _, root = build.chain(owner)
        for _ in range(4):
            build.takes(root, owner=owner, ready=False)
    claimed = claim_all_at_once(queue, claimers=3)
    assert len(claimed) == len(set(claimed)) == 12
