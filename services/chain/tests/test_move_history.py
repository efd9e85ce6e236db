"""Every move answers what undo and redo do next and logs it in the same
transaction (a history.changed event whose seq is the history's), and the
events of a move carry what an editor needs to follow it without a read: the
nodes sent to the bin, the title of a rename. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sparrow_chain.domain import EventKind, GridCorrection, History, Move, MoveKind


def logged(store, chain_id: str) -> History:
    """The history the chain's latest history event says, checked to be its latest event."""
    last = store.events_after(chain_id, 0)[-1]
    assert last.kind is EventKind.HISTORY_CHANGED and last.history.seq == last.seq
    return last.history


def test_every_move_answers_the_history_its_event_logs(store, build):
    chain, root = build.chain(seconds=8.0)
    keep, drop = build.takes(root, count=2)
    answers = []

    node, history = store.commit("ann", keep.id)
    assert history == History(undo=Move(MoveKind.COMMIT, keep.id), seq=history.seq) == logged(store, chain.id)
    answers.append(history)
    _, history = store.restore("ann", drop.id)
    assert history.undo == Move(MoveKind.RESTORE, drop.id) and history == logged(store, chain.id)
    answers.append(history)
    history = store.discard("ann", drop.id)
    assert history.undo == Move(MoveKind.DISCARD, drop.id) and history == logged(store, chain.id)
    answers.append(history)
    _, history = store.uncommit("ann", keep.id)
    assert history.undo == Move(MoveKind.UNCOMMIT, keep.id) and history == logged(store, chain.id)
    answers.append(history)
    _, history = store.set_grid("ann", root.id, GridCorrection(tempo_bpm=100.0))
    assert history.undo == Move(MoveKind.REGRID, root.id) and history == logged(store, chain.id)
    answers.append(history)
    _, history = store.undo("ann", chain.id)
    assert history == History(
        undo=Move(MoveKind.UNCOMMIT, keep.id), redo=Move(MoveKind.REGRID, root.id), seq=history.seq
    ) == logged(store, chain.id)
    answers.append(history)
    _, history = store.redo("ann", chain.id)
    assert history.undo == Move(MoveKind.REGRID, root.id) and history.redo is None
    assert history == logged(store, chain.id)
    answers.append(history)

    # Each later than the one before, and a read of the chain says the last.
    seqs = [h.seq for h in answers]
    assert seqs == sorted(set(seqs)) and store.history("ann", chain.id) == answers[-1]


def test_a_commit_of_a_node_committed_already_logs_nothing(store, build):
    chain, root = build.chain()
    take = build.takes(root)[0]
    _, history = store.commit("ann", take.id)
    seq = store.chain_seq("ann", chain.id)
    node, again = store.commit("ann", take.id)
    assert node.committed and again == history and store.chain_seq("ann", chain.id) == seq


def test_an_emptied_bin_answers_and_logs_the_moves_it_forgot(store, build):
    chain, root = build.chain()
    a, b = build.takes(root, count=2)
    store.discard("ann", a.id)
    store.discard("ann", b.id)
    store.undo("ann", chain.id)  # b is back; its discard can be redone
    removed, history = store.empty_bin("ann", chain.id)
    assert [r.node_id for r in removed] == [a.id]
    # The discard of a is forgotten; the undone discard of b can still be redone.
    assert history == History(redo=Move(MoveKind.DISCARD, b.id), seq=history.seq) == logged(store, chain.id)
    # Nothing in the bin: nothing changes, nothing is logged.
    seq = store.chain_seq("ann", chain.id)
    assert store.empty_bin("ann", chain.id) == ([], history) and store.chain_seq("ann", chain.id) == seq


def test_a_swept_bin_logs_the_history_of_each_chain_it_swept(store, build):
    chain, root = build.chain()
    take = build.takes(root)[0]
    store.discard("ann", take.id)
    store.sweep_bin(datetime.now(UTC) + timedelta(seconds=1))
    assert logged(store, chain.id) == History(seq=store.chain_seq("ann", chain.id))


def test_a_discard_logs_each_node_in_the_bin_the_top_first(store, build):
    chain, root = build.chain()
    take = build.takes(root)[0]
    child = build.takes(take)[0]
    grandchild = build.takes(child)[0]
    seq = store.chain_seq("ann", chain.id)
    store.discard("ann", take.id)
    discarded = [e for e in store.events_after(chain.id, seq) if e.kind is EventKind.NODE_DISCARDED]
    assert [e.node.id for e in discarded] == [take.id, child.id, grandchild.id]
    assert all(e.node_id == e.node.id and e.node.binned_at is not None for e in discarded)
    assert [n.id for n in store.bin("ann", chain.id)] == [take.id]


def test_a_rename_logs_the_title(store, build):
    chain, _ = build.chain()
    store.rename("ann", chain.id, "  Second verse ")
    last = store.events_after(chain.id, 0)[-1]
    assert last.kind is EventKind.CHAIN_RENAMED and last.title == "Second verse"
