"""The editing moves on the store, on SQLite and on the real PostgreSQL server:
continue from a point, uncommit, the bin, undo and redo, fork and rename."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sparrow_chain.domain import EventKind, MoveKind, NodeStatus, Recipe
from sparrow_common.errors import Conflict, InvalidArgument, NotFound
from sparrow_common.ids import new_id


def spine_ids(store, chain_id: str) -> list[str]:
    return [n.id for n in store.spine("ann", chain_id)]


def test_a_take_from_a_point_sets_its_parents_out_point_when_committed(store, build):
    chain, root = build.chain(seconds=4.0)
    early, late = build.takes(root, seconds=3.0, from_s=1.5), build.takes(root, seconds=3.0, from_s=2.5)
    store.commit("ann", early[0].id)
    assert store.get_node("ann", root.id).out_s == 1.5
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(1.5 + 3.0)
    assert [n.out_s for n in store.spine("ann", chain.id)] == [1.5, None]
    # Committing a sibling from another point moves the out point.
    store.uncommit("ann", early[0].id)
    assert store.get_node("ann", root.id).out_s is None
    store.commit("ann", late[0].id)
    assert store.get_node("ann", root.id).out_s == 2.5
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(2.5 + 3.0)


@pytest.mark.parametrize("from_s, error, words", [
    (4.0, InvalidArgument, "inside the parent's audio"),
    (9.5, InvalidArgument, "not before its end at 4.00 s"),
    (0.0, InvalidArgument, "above 0"),
    (-1.0, InvalidArgument, "above 0"),
    (float("nan"), InvalidArgument, "above 0"),
])
def test_a_point_outside_the_parents_audio_is_refused_and_nothing_is_written(store, build, from_s, error, words):
    chain, root = build.chain(seconds=4.0)
    with pytest.raises(error, match=words):
        store.create_takes("ann", root.id, Recipe(), 2, from_s=from_s)
    assert [n.id for n in store.get_chain("ann", chain.id)[1]] == [root.id]


def test_uncommitting_the_tip_makes_it_a_take_and_brings_back_what_its_commit_binned(store, build):
    chain, root = build.chain()
    keep, drop = build.takes(root, count=2)
    under = build.takes(drop)[0]
    store.commit("ann", keep.id)
    assert store.bin("ann", chain.id)[0].id == drop.id
    taken_off, _ = store.uncommit("ann", keep.id)
    assert not taken_off.committed and taken_off.status is NodeStatus.READY
    assert spine_ids(store, chain.id) == [root.id]
    assert {n.id for n in store.get_chain("ann", chain.id)[1]} == {root.id, keep.id, drop.id, under.id}
    assert store.bin("ann", chain.id) == []
    kinds = [e.kind for e in store.events_after(chain.id, 0)]
    assert EventKind.NODE_UNCOMMITTED in kinds and kinds.count(EventKind.NODE_RESTORED) == 2


def test_only_the_tip_can_be_uncommitted(store, build):
    chain, root = build.chain()
    (a,) = build.takes(root)
    store.commit("ann", a.id)
    (b,) = build.takes(a)
    store.commit("ann", b.id)
    with pytest.raises(Conflict, match="Only the spine's tip"):
        store.uncommit("ann", a.id)
    with pytest.raises(Conflict, match="root"):
        store.uncommit("ann", root.id)
    (c,) = build.takes(b)
    with pytest.raises(Conflict, match="not on the spine"):
        store.uncommit("ann", c.id)
    assert spine_ids(store, chain.id) == [root.id, a.id, b.id]


def test_restoring_needs_the_parent_back_first(store, build):
    chain, root = build.chain()
    (a,) = build.takes(root)
    (child,) = build.takes(a)
    store.discard("ann", child.id)
    store.discard("ann", a.id)
    with pytest.raises(Conflict, match="parent is in the bin"):
        store.restore("ann", child.id)
    assert store.restore("ann", a.id)[0].binned_at is None
    assert store.restore("ann", child.id)[0].binned_at is None
    with pytest.raises(Conflict, match="not in the bin"):
        store.restore("ann", child.id)


def test_a_take_being_made_stops_when_binned_and_comes_back_cancelled(store, build, queue):
    chain, root = build.chain()
    (take,) = build.takes(root, ready=False)
    job = queue.claim("me", 30)
    store.discard("ann", take.id)
    assert not queue.renew(job.id, "me", 30)  # the job is gone: the worker's call is cancelled
    back, _ = store.restore("ann", take.id)
    assert back.status is NodeStatus.CANCELLED and "discarded while being made" in back.error_message


def test_undo_and_redo_walk_the_moves_and_a_new_move_forgets_what_was_undone(store, build):
    chain, root = build.chain()
    keep, drop = build.takes(root, count=2)
    assert store.history("ann", chain.id).undo is None
    store.commit("ann", keep.id)
    store.discard("ann", build.takes(keep)[0].id)
    history = store.history("ann", chain.id)
    assert history.undo.kind is MoveKind.DISCARD and history.redo is None

    undone, _ = store.undo("ann", chain.id)  # the discard
    assert undone.kind is MoveKind.DISCARD and store.bin("ann", chain.id)[0].id == drop.id
    undone, history = store.undo("ann", chain.id)  # the commit: drop comes back
    assert undone == history.redo and undone.kind is MoveKind.COMMIT
    assert spine_ids(store, chain.id) == [root.id] and store.bin("ann", chain.id) == []
    with pytest.raises(Conflict, match="Nothing to undo"):
        store.undo("ann", chain.id)

    redone, history = store.redo("ann", chain.id)  # commit again: drop to the bin again
    assert redone.kind is MoveKind.COMMIT and spine_ids(store, chain.id) == [root.id, keep.id]
    assert [n.id for n in store.bin("ann", chain.id)] == [drop.id]
    assert history.redo.kind is MoveKind.DISCARD
    store.uncommit("ann", keep.id)  # a new move: the undone discard can't be redone
    assert store.history("ann", chain.id).redo is None
    with pytest.raises(Conflict, match="Nothing to redo"):
        store.redo("ann", chain.id)


def test_uncommit_racing_a_commit_never_forks_the_spine(store, build):
    """The tip taken off while its child is committed: one of the two wins, never both."""
    for _ in range(6):
        chain, root = build.chain()
        (tip,) = build.takes(root)
        store.commit("ann", tip.id)
        (child,) = build.takes(tip)
        outcomes = {}
        start = threading.Barrier(2)

        def run(name, move, node_id):
            start.wait()
            try:
                move("ann", node_id)
                outcomes[name] = "done"
            except Conflict:
                outcomes[name] = "refused"

        threads = [
            threading.Thread(target=run, args=("uncommit", store.uncommit, tip.id)),
            threading.Thread(target=run, args=("commit", store.commit, child.id)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["done", "refused"], outcomes
        spine = spine_ids(store, chain.id)
        assert spine in ([root.id], [root.id, tip.id, child.id])
        committed = [n for n in store.get_chain("ann", chain.id)[1] if n.committed]
        assert len(committed) == len(spine)  # nothing committed off the spine


def test_the_bin_empties_on_demand_and_after_its_time(store, build):
    chain, root = build.chain()
    a, b = build.takes(root, count=2)
    store.discard("ann", a.id)
    assert store.sweep_bin(datetime.now(UTC) - timedelta(hours=1)) == []  # not old enough
    removed = store.sweep_bin(datetime.now(UTC) + timedelta(seconds=1))
    assert [r.node_id for r in removed] == [a.id]
    with pytest.raises(Conflict, match="Nothing to undo"):
        store.undo("ann", chain.id)  # the discard can't be undone once emptied
    store.discard("ann", b.id)
    assert [r.node_id for r in store.empty_bin("ann", chain.id)[0]] == [b.id]
    assert store.bin("ann", chain.id) == []


def test_a_fork_shares_the_spine_up_to_a_node_and_its_audio(store, build):
    chain, root = build.chain(seconds=4.0)
    (a,) = build.takes(root, from_s=3.0)
    store.commit("ann", a.id)
    (b,) = build.takes(a)
    store.commit("ann", b.id)
    fork, parts = store.fork("ann", a.id, new_id())
    assert fork.title == "song (fork)" and fork.id != chain.id
    assert [p.audio.key for p in parts] == [root.audio.key, a.audio.key]
    assert [p.out_s for p in parts] == [3.0, None]  # the fork's tip plays to its end
    assert all(p.committed for p in parts) and fork.spine_duration_s == pytest.approx(3.0 + 3.0)
    assert [n.id for n in store.spine("ann", fork.id)] == [p.id for p in parts]
    (off,) = build.takes(b)
    with pytest.raises(Conflict, match="part of the spine"):
        store.fork("ann", off.id, new_id())
    with pytest.raises(NotFound):
        store.fork("bob", a.id, new_id())
    # Deleting the first chain leaves the fork's audio: only b's is no one's now.
    keys = store.delete_chain("ann", chain.id)
    assert set(store.unheld(keys)) == {b.audio.key, off.audio.key}


@pytest.mark.parametrize("title, words", [("", "can't be empty"), ("   ", "can't be empty"), ("x" * 201, "at most 200")])
def test_a_rename_to_an_empty_or_overlong_title_is_refused(store, build, title, words):
    chain, _ = build.chain()
    with pytest.raises(InvalidArgument, match=words):
        store.rename("ann", chain.id, title)
    assert store.get_chain("ann", chain.id)[0].title == "song"
    assert store.rename("ann", chain.id, "  Night Drive ").title == "Night Drive"
    assert store.events_after(chain.id, 0)[-1].kind is EventKind.CHAIN_RENAMED
