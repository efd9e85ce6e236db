"""Replacing a stretch of a part, on the store (SQLite and the real PostgreSQL
server): the takes asked, the spine once one is committed (the part to the
stretch, the take, the rest of the part, what followed), and the move undone
and done again."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from sparrow_chain.domain import AnalysisStatus, NodeAnalysis, Recipe, Rejoin
from sparrow_chain.store.tables import nodes
from sparrow_common.errors import Conflict, InvalidArgument


def played(store, chain_id: str) -> list[tuple[str, float | None, float | None]]:
    """The spine as it plays: each part's id, in point and out point."""
    return [(n.id, n.in_s, n.out_s) for n in store.spine("ann", chain_id)]


def heard_rejoin(store, node_id: str, at_s: float, crossfade_s: float = 0.25) -> None:
    """What the analysis worker would write for a take that replaces a stretch."""
    heard = NodeAnalysis(AnalysisStatus.READY, rejoin=Rejoin(at_s=at_s, crossfade_s=crossfade_s, score=0.8, on="downbeat"))
    with store._write() as conn:
        conn.execute(update(nodes).where(nodes.c.id == node_id).values(analysis=heard.to_json()))


def test_takes_that_replace_a_stretch_run_past_it_and_say_so(store, build):
    chain, root = build.chain(seconds=10.0)
    takes = build.takes(root, count=2, ready=False, from_s=2.0, until_s=5.0)
    assert [t.until_s for t in takes] == [5.0, 5.0] and [t.from_s for t in takes] == [2.0, 2.0]
    # No grid: the stretch and 2 s more, for the part to come back in.
    assert takes[0].recipe.duration_s == pytest.approx(5.0)
    assert "replaces 2.00 to 5.00 s" in takes[0].note


@pytest.mark.parametrize(
    ("from_s", "until_s", "words"),
    [
        (None, 5.0, "until_s needs from_s"),
        (2.0, 2.5, "at least 1 s"),
        (2.0, 9.8, "at least 0.5 s of the part after"),
        (2.0, float("nan"), "until_s must be a time"),
        (2.0, 200.0, "at least 0.5 s"),
    ],
)
def test_a_stretch_that_cant_be_replaced_is_refused_in_words(store, build, from_s, until_s, words):
    chain, root = build.chain(seconds=10.0)
    with pytest.raises(InvalidArgument, match=words):
        store.create_takes("ann", root.id, Recipe(), 1, from_s=from_s, until_s=until_s)


def test_a_replacement_is_not_aligned_to_bars(store, build):
    chain, root = build.chain(seconds=10.0)
    with pytest.raises(InvalidArgument, match="align"):
        store.create_takes("ann", root.id, Recipe(align="bars"), 1, from_s=2.0, until_s=5.0)


def test_a_stretch_too_long_for_a_take_is_refused(store, build):
    chain, root = build.chain(seconds=300.0)
    with pytest.raises(InvalidArgument, match="too long"):
        store.create_takes("ann", root.id, Recipe(), 1, from_s=2.0, until_s=150.0)


def test_a_committed_replacement_plays_the_part_the_take_and_the_rest_and_keeps_the_spine_as_long(store, build):
    chain, root = build.chain(seconds=10.0)
    take, other = build.takes(root, count=2, from_s=2.0, until_s=5.0, seconds=5.0)
    heard_rejoin(store, take.id, at_s=5.25)
    store.commit("ann", take.id)
    spine = store.spine("ann", chain.id)
    assert [n.id for n in spine[:2]] == [root.id, take.id]
    rest = spine[2]
    # The rest shares the part's audio, from the rejoin to the part's end, the crossfade centred there.
    assert rest.audio.key == root.audio.key and rest.parent_id == take.id and rest.committed
    assert (rest.in_s, rest.out_s, rest.in_fade_s) == (5.25, None, 0.25)
    assert spine[0].out_s == 2.0 and spine[1].out_s == pytest.approx(3.25) and rest.from_s == pytest.approx(3.25)
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(10.0)
    # The sibling went to the bin, as with any commit.
    assert [n.id for n in store.bin("ann", chain.id)] == [other.id]


def test_a_stretch_inside_the_spine_puts_what_followed_after_the_rest_and_undo_puts_it_back(store, build):
    chain, root = build.chain(seconds=10.0)
    (tip,) = build.takes(root, from_s=8.0, seconds=4.0)
    store.commit("ann", tip.id)
    before = played(store, chain.id)
    (take,) = build.takes(root, from_s=2.0, until_s=5.0, seconds=6.0)
    store.commit("ann", take.id)
    spine = store.spine("ann", chain.id)
    rest = spine[2]
    assert [n.id for n in spine] == [root.id, take.id, rest.id, tip.id]
    # Nothing listened: it comes back where asked, and says so.
    assert (rest.in_s, rest.out_s) == (5.0, 8.0)
    assert store.get_node("ann", tip.id).parent_id == rest.id
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(8.0 + 4.0)
    # The rest can't leave the spine alone; undo puts the stretch back exactly.
    with pytest.raises(Conflict, match="uncommit the take before it"):
        store.uncommit("ann", rest.id)
    store.undo("ann", chain.id)
    assert played(store, chain.id) == before
    assert store.get_node("ann", tip.id).parent_id == root.id
    assert not store.get_node("ann", take.id).committed
    # Redo: the same rest again (what was asked of it with it), the tip after it.
    store.redo("ann", chain.id)
    assert [n.id for n in store.spine("ann", chain.id)] == [root.id, take.id, rest.id, tip.id]
    assert played(store, chain.id)[2] == (rest.id, 5.0, 8.0)


def test_the_tip_after_a_rest_comes_off_as_any_tip_and_the_rest_plays_to_the_end(store, build):
    chain, root = build.chain(seconds=10.0)
    (take,) = build.takes(root, from_s=2.0, until_s=5.0, seconds=6.0)
    store.commit("ann", take.id)
    rest = store.spine("ann", chain.id)[2]
    (tip,) = build.takes(rest, from_s=7.0, seconds=4.0)
    store.commit("ann", tip.id)
    assert store.get_node("ann", rest.id).out_s == 7.0
    # A take of the rest continues from a point it plays, not before its in point.
    with pytest.raises(InvalidArgument, match="where the part plays"):
        store.create_takes("ann", rest.id, Recipe(), 1, from_s=4.0)
    store.uncommit("ann", tip.id)
    assert store.get_node("ann", rest.id).out_s is None
    # Uncommitting the take itself takes the rest off with it (to the bin, out of the way).
    store.uncommit("ann", take.id)
    assert played(store, chain.id) == [(root.id, None, None)]
    assert rest.id in [n.id for n in store.bin("ann", chain.id)]


def test_a_replacement_is_not_committed_while_its_rejoin_is_listened_for(store, build):
    chain, root = build.chain(seconds=10.0)
    (take,) = build.takes(root, from_s=2.0, until_s=5.0, seconds=6.0)
    with store._write() as conn:
        conn.execute(update(nodes).where(nodes.c.id == take.id).values(
            analysis=NodeAnalysis(AnalysisStatus.PENDING).to_json()
        ))
    with pytest.raises(Conflict, match="still listening"):
        store.commit("ann", take.id)


def test_intros_lead_into_the_root_from_its_start_and_run_past_where_it_comes_in(store, build):
    chain, root = build.chain(seconds=10.0)
    takes = store.create_takes("ann", root.id, Recipe(duration_s=4.0), 2, intro=True)
    assert [(t.from_s, t.until_s) for t in takes] == [(0.0, 4.0), (0.0, 4.0)]
    assert all(t.is_intro for t in takes) and takes[0].recipe.duration_s == pytest.approx(6.0)
    assert "an intro of 4.00 s" in takes[0].note


@pytest.mark.parametrize(
    ("asked", "error", "words"),
    [
        ({"from_s": 2.0}, InvalidArgument, "without from_s"),
        ({"recipe": Recipe(align="bars")}, InvalidArgument, "align"),
        ({"on_take": True}, InvalidArgument, "ask the root"),
        ({"from_words": True}, Conflict, "starts from words"),
    ],
)
def test_an_intro_that_cant_be_written_is_refused_in_words(store, build, asked, error, words):
    chain, root = build.chain(seconds=10.0)
    parent = root
    if asked.get("on_take"):
        (parent,) = build.takes(root)
    if asked.get("from_words"):
        from sparrow_common.ids import new_id

        chain_id, parent_id = new_id(), new_id()
        chain, parent = store.create_chain(
            "ann", chain_id, parent_id, "words", "", build.audio(f"{chain_id}/{parent_id}.wav", 0.0), from_words=True
        )
    with pytest.raises(error, match=words):
        store.create_takes("ann", parent.id, asked.get("recipe", Recipe()), 1, from_s=asked.get("from_s"), intro=True)


def test_a_committed_intro_comes_first_the_clip_follows_from_its_first_downbeat_and_undo_restores_the_start(store, build):
    chain, root = build.chain(seconds=10.0)
    (tip,) = build.takes(root, seconds=3.0)
    store.commit("ann", tip.id)
    before = played(store, chain.id)
    (intro,) = store.create_takes("ann", root.id, Recipe(duration_s=4.0), 1, intro=True)
    intro = store.finish_node(intro.id, build.audio(f"{chain.id}/{intro.id}.wav", 6.0))
    store.commit("ann", intro.id)
    spine = store.spine("ann", chain.id)
    rest = spine[2]
    assert [n.id for n in spine] == [root.id, intro.id, rest.id, tip.id]
    # The root plays nothing; the intro its 4 s; the clip from its first downbeat (no grid: its start).
    assert (spine[0].out_s, spine[1].out_s, rest.in_s, rest.audio.key) == (0.0, 4.0, 0.0, root.audio.key)
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(4.0 + 10.0 + 3.0)
    with pytest.raises(Conflict, match="an intro already"):
        store.create_takes("ann", root.id, Recipe(), 1, intro=True)
    store.undo("ann", chain.id)
    assert played(store, chain.id) == before


def test_a_stretch_across_parts_leaves_the_parts_between_off_the_spine_and_undo_puts_them_back(store, build):
    chain, root = build.chain(seconds=10.0)
    (middle,) = build.takes(root, from_s=8.0, seconds=4.0)
    store.commit("ann", middle.id)
    (last,) = build.takes(middle, seconds=6.0)
    store.commit("ann", last.id)
    (tip,) = build.takes(last, from_s=5.0, seconds=3.0)
    store.commit("ann", tip.id)
    before = played(store, chain.id)
    # From 6 s of the root, through the middle part, to 2 s into the last: 2 + 4 + 2 s.
    (take,) = store.create_takes("ann", root.id, Recipe(), 1, from_s=6.0, until_s=2.0, until_node_id=last.id)
    assert take.until_node_id == last.id and take.recipe.duration_s == pytest.approx(8.0 + 2.0)
    take = store.finish_node(take.id, build.audio(f"{chain.id}/{take.id}.wav", 10.0))
    heard_rejoin(store, take.id, at_s=2.5)
    store.commit("ann", take.id)
    spine = store.spine("ann", chain.id)
    rest = spine[2]
    assert [n.id for n in spine] == [root.id, take.id, rest.id, tip.id]
    # The rest is the last part's audio from where it comes back, the take to there on its own clock.
    assert (rest.audio.key, rest.in_s, rest.out_s) == (last.audio.key, 2.5, 5.0)
    assert spine[0].out_s == 6.0 and spine[1].out_s == pytest.approx(2.0 + 4.0 + 2.5)
    # The parts between are a branch of the root now, off the spine.
    assert not store.get_node("ann", middle.id).committed and store.get_node("ann", middle.id).binned_at is None
    assert store.get_chain("ann", chain.id)[0].spine_duration_s == pytest.approx(8.0 + 4.0 + 5.0 + 3.0)
    store.undo("ann", chain.id)
    assert played(store, chain.id) == before
    store.redo("ann", chain.id)
    assert [n.id for n in store.spine("ann", chain.id)] == [root.id, take.id, rest.id, tip.id]


@pytest.mark.parametrize(
    ("until_s", "where", "words"),
    [(2.0, "root", "a part of the spine after the parent"), (5.8, "last", "at least 0.5 s")],
)
def test_a_stretch_across_parts_must_end_in_a_later_part_of_the_spine(store, build, until_s, where, words):
    chain, root = build.chain(seconds=10.0)
    (last,) = build.takes(root, seconds=6.0)
    store.commit("ann", last.id)
    until = root if where == "root" else last
    with pytest.raises(InvalidArgument, match=words):
        store.create_takes("ann", root.id, Recipe(), 1, from_s=6.0, until_s=until_s, until_node_id=until.id)


@pytest.mark.parametrize(("downbeats", "first"), [((2.0, 4.0, 6.0), 0.0), ((2.25, 4.25), 0.25), ((), 0.0)])
def test_an_intro_leads_into_the_clips_first_bar_even_when_its_first_downbeat_went_unheard(store, build, downbeats, first):
    from sparrow_chain.domain import ClipAnalysis
    from sparrow_chain.stretches import first_downbeat

    chain, root = build.chain(seconds=10.0)
    clip = ClipAnalysis(duration_s=10.0, tempo_bpm=120.0 if downbeats else None, meter=4 if downbeats else 0,
                        beats_s=tuple(d + k * 0.5 for d in downbeats for k in range(4)), downbeats_s=downbeats)
    with store._write() as conn:
        conn.execute(update(nodes).where(nodes.c.id == root.id).values(
            analysis=NodeAnalysis(AnalysisStatus.READY, clip=clip).to_json()
        ))
    assert first_downbeat(store.get_node("ann", root.id)) == pytest.approx(first)
