"""The chain store on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sparrow_chain.domain import EventKind, NodeStatus, Recipe, TakeLimits
from sparrow_chain.store.tables import metadata
from sparrow_common.errors import Conflict, InvalidArgument, NotFound, OverLimit


def test_migrations_build_exactly_the_declared_schema(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_stems_made_before_models_were_named_are_kept_as_htdemucs(upgraded_from):
    from datetime import UTC, datetime

    from sqlalchemy import text

    from sparrow_chain.store.stems import StemStore

    moment = datetime.now(UTC)

    def fill(conn):
        conn.execute(
            text("INSERT INTO stem_sets VALUES (:h, 'ready', 1.0, '', :t, :t)"), {"h": "a" * 64, "t": moment}
        )
        for stem in ("vocals", "bass", "drums", "other"):
            conn.execute(
                text(f"INSERT INTO stem_files VALUES (:h, '{stem}', 'k/{stem}', 'wav', 'audio/wav', 44100, 2, 1.0, 9)"),
                {"h": "a" * 64},
            )

    with upgraded_from("0006", fill) as engine:
        kept = StemStore(engine).get("a" * 64, "htdemucs")
    assert kept.status.value == "ready" and list(kept.files) == ["drums", "bass", "other", "vocals"]
    assert kept.files["bass"].key == "k/bass"


def test_a_new_chain_has_a_ready_committed_root_and_one_event(store, build):
    chain, root = build.chain(seconds=2.5)
    assert root.status is NodeStatus.READY and root.committed and root.is_root
    got, nodes = store.get_chain("ann", chain.id)
    assert [n.id for n in nodes] == [root.id]
    assert got.root_node_id == root.id and got.spine_duration_s == pytest.approx(2.5)
    events = store.events_after(chain.id, 0)
    assert [(e.seq, e.kind) for e in events] == [(1, EventKind.CHAIN_CREATED)]


def test_spine_is_the_committed_path_root_first(store, build):
    chain, root = build.chain()
    first = build.takes(root)[0]
    store.commit("ann", first.id)
    second = build.takes(first, count=2)
    store.commit("ann", second[1].id)
    build.takes(second[1], count=2)  # uncommitted takes stay off the spine
    spine = store.spine("ann", chain.id)
    assert [n.id for n in spine] == [root.id, first.id, second[1].id]
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(2.0 + 3.0 + 3.0)


def test_takes_are_pending_siblings_with_distinct_seeds(store, build):
    _, root = build.chain()
    takes = build.takes(root, count=4, ready=False)
    assert {t.status for t in takes} == {NodeStatus.PENDING}
    assert {t.parent_id for t in takes} == {root.id}
    assert len({t.recipe.seed for t in takes}) == 4
    seeded = store.create_takes("ann", root.id, Recipe(seed=42), 3)
    assert [t.recipe.seed for t in seeded] == [42, 43, 44]


@pytest.mark.parametrize("count", [0, 9, -1])
def test_take_count_out_of_range_is_refused(store, build, count):
    _, root = build.chain()
    with pytest.raises(InvalidArgument, match="between 1 and 8"):
        store.create_takes("ann", root.id, Recipe(), count)


@pytest.mark.parametrize(
    "params, message",
    [
        (Recipe(duration_s=10_000), "duration_s"),
        (Recipe(cfg_coef=-1), "cfg_coef"),
        (Recipe(energy="loud"), "energy"),
        (Recipe(temperature=0), "temperature"),
    ],
)
def test_absurd_parameters_are_refused_and_nothing_is_written(store, build, params, message):
    chain, root = build.chain()
    with pytest.raises(InvalidArgument, match=message):
        store.create_takes("ann", root.id, params, 1)
    assert len(store.get_chain("ann", chain.id)[1]) == 1


def test_branch_from_a_parent_without_audio_conflicts(store, build):
    _, root = build.chain()
    pending = build.takes(root, ready=False)[0]
    with pytest.raises(Conflict, match="no audio"):
        store.create_takes("ann", pending.id, Recipe(), 1)


def test_commit_sends_uncommitted_siblings_and_their_subtrees_to_the_bin(store, build):
    chain, root = build.chain()
    keep, drop = build.takes(root, count=2)
    grandchild = build.takes(drop)[0]
    node, _ = store.commit("ann", keep.id)
    assert node.committed
    assert [n.id for n in store.get_chain("ann", chain.id)[1]] == [root.id, keep.id]
    assert [n.id for n in store.bin("ann", chain.id)] == [drop.id]  # with its grandchild under it
    assert store.get_node("ann", grandchild.id).binned_at is not None
    kinds = [e.kind for e in store.events_after(chain.id, 0)]
    assert kinds.count(EventKind.NODE_DISCARDED) == 2 and kinds[-2:] == [EventKind.NODE_COMMITTED, EventKind.HISTORY_CHANGED]


def test_only_ready_nodes_can_be_committed(store, build):
    _, root = build.chain()
    pending = build.takes(root, ready=False)[0]
    with pytest.raises(Conflict, match="'ready'"):
        store.commit("ann", pending.id)
    failed = build.takes(root, ready=False)[0]
    store.fail_node(failed.id, "model exploded")
    with pytest.raises(Conflict, match="'error'"):
        store.commit("ann", failed.id)


def test_committing_off_the_spine_tip_is_refused(store, build):
    """The spine never forks: a node whose parent already continues on the spine,
    or whose parent is not on it, can't be committed."""
    _, root = build.chain()
    a, b = build.takes(root, count=2)
    a_child = build.takes(a)[0]
    with pytest.raises(Conflict, match="commit the parent first"):
        store.commit("ann", a_child.id)
    store.commit("ann", a.id)
    late = build.takes(root)[0]  # a new take off the root, after the spine moved on
    with pytest.raises(Conflict, match="would fork"):
        store.commit("ann", late.id)
    # committing what is already committed is a no-op, not an error
    assert store.commit("ann", a.id)[0].committed


def test_discard_rules(store, build):
    chain, root = build.chain()
    a, b = build.takes(root, count=2)
    child = build.takes(b)[0]
    with pytest.raises(Conflict, match="root"):
        store.discard("ann", root.id)
    store.discard("ann", b.id)
    assert [n.id for n in store.bin("ann", chain.id)] == [b.id]
    with pytest.raises(Conflict, match="in the bin already"):
        store.discard("ann", b.id)
    store.commit("ann", a.id)
    with pytest.raises(Conflict, match="Committed"):
        store.discard("ann", a.id)
    removed, _ = store.empty_bin("ann", chain.id)
    assert {r.node_id for r in removed} == {b.id, child.id} and all(r.audio_key for r in removed)
    with pytest.raises(NotFound):
        store.get_node("ann", b.id)


def test_concurrent_commits_of_siblings_leave_exactly_one_committed(store, build):
    chain, root = build.chain()
    takes = build.takes(root, count=8)
    barrier = threading.Barrier(len(takes))
    outcomes: list[str] = []

    def commit(node_id: str) -> None:
        barrier.wait()
        try:
            store.commit("ann", node_id)
            outcomes.append("committed")
        except (NotFound, Conflict) as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=commit, args=(t.id,)) for t in takes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("committed") == 1
    nodes = store.get_chain("ann", chain.id)[1]
    assert len(nodes) == 2 and all(n.committed for n in nodes)
    assert len(store.spine("ann", chain.id)) == 2


def test_event_log_numbers_rise_by_one_and_resume_after_a_seq(store, build):
    chain, root = build.chain()
    a, b = build.takes(root, count=2)
    store.commit("ann", a.id)
    events = store.events_after(chain.id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.seq for e in store.events_after(chain.id, 3)] == [e.seq for e in events[3:]]
    # the snapshot is the node as it was: created pending, later ready
    created = [e for e in events if e.kind is EventKind.NODE_CREATED and e.node_id == a.id][0]
    assert created.node.status is NodeStatus.PENDING


def test_another_owner_sees_nothing(store, build):
    chain, root = build.chain(owner="ann")
    with pytest.raises(NotFound):
        store.get_chain("bob", chain.id)
    with pytest.raises(NotFound):
        store.get_node("bob", root.id)
    with pytest.raises(NotFound):
        store.create_takes("bob", root.id, Recipe(), 1)
    with pytest.raises(NotFound):
        store.delete_chain("bob", chain.id)
    assert store.list_chains("bob", 10, 0) == []
    assert [c.id for c in store.list_chains("ann", 10, 0)] == [chain.id]


def test_delete_chain_removes_everything(store, build):
    chain, root = build.chain()
    build.takes(root, count=2)
    other, _ = build.chain()
    store.delete_chain("ann", chain.id)
    with pytest.raises(NotFound):
        store.get_chain("ann", chain.id)
    assert store.events_after(chain.id, 0) == []
    assert store.chain_seq("ann", chain.id) is None
    assert [c.id for c in store.list_chains("ann", 10, 0)] == [other.id]


def test_list_chains_pages_newest_first(store, build):
    made = [build.chain()[0].id for _ in range(5)]
    first = store.list_chains("ann", 3, 0)
    rest = store.list_chains("ann", 3, 3)
    assert [c.id for c in first + rest] == made[::-1]


def test_a_users_takes_are_held_to_their_limits(store, build):
    _, root = build.chain("bob")
    limits = TakeLimits(max_waiting=3, per_day=5)
    store.create_takes("bob", root.id, Recipe(), 2, limits=limits)
    with pytest.raises(OverLimit, match="3 takes waiting") as refused:
        store.create_takes("bob", root.id, Recipe(), 2, limits=limits)
    assert refused.value.retry_after_s > 0
    assert store.usage("bob").takes_waiting == 2 and store.usage("bob").takes_today == 2
    # Takes discarded still count against the day; waiting ones are freed.
    for node in store.get_chain("bob", root.chain_id)[1][1:]:
        store.discard("bob", node.id)
    store.create_takes("bob", root.id, Recipe(), 3, limits=limits)
    with pytest.raises(OverLimit, match="5 takes per day and 0 are left") as refused:
        store.create_takes("bob", root.id, Recipe(), 1, limits=limits)
    assert 0 < refused.value.retry_after_s <= 24 * 3600
    # Another user's count is their own.
    _, ann_root = build.chain("ann")
    store.create_takes("ann", ann_root.id, Recipe(), 3, limits=limits)
    assert store.usage("ann").takes_today == 3
