"""A part's grid: what was heard with the musician's word over it (grid.py), and
setting it as a move in the store, undone and redone, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sparrow_chain.domain import AnalysisStatus, ClipAnalysis, EventKind, MoveKind, root_note
from sparrow_chain.grid import Grid, GridCorrection, PathGrid, grid_of, path_grid
from sparrow_chain.store import ChainStore, JobQueue
from sparrow_common.errors import Conflict, InvalidArgument
from sparrow_common.ids import new_id

# Heard: 120 bpm in 4/4 (a beat 0.5 s, a bar 2 s), the first downbeat at 0.25 s, in A minor.
HEARD = ClipAnalysis(
    tempo_bpm=120.0, beats_s=tuple(0.25 + 0.5 * k for k in range(16)),
    downbeats_s=tuple(0.25 + 2 * k for k in range(4)), meter=4, time_signature="4/4", key="A minor",
)
LENGTH_S = 8.0


def test_what_was_heard_is_the_grid_until_the_musician_says_otherwise():
    grid = grid_of(HEARD, None, LENGTH_S)
    assert grid == Grid(120.0, HEARD.beats_s, HEARD.downbeats_s, 4, "4/4", "A minor", ())
    assert grid_of(None, None, LENGTH_S) is None
    assert grid_of(None, GridCorrection(), LENGTH_S) is None
    # An analysis from before time signatures were named: its meter says it.
    older = replace(HEARD, time_signature="")
    assert grid_of(older, None, LENGTH_S).time_signature == "4/4"


def test_a_tempo_lays_the_beats_evenly_across_the_part_from_the_first_downbeat():
    grid = grid_of(HEARD, GridCorrection(tempo_bpm=100.0), LENGTH_S)
    beat = 0.6
    assert grid.tempo_bpm == 100.0 and grid.corrected == ("tempo",)
    assert grid.beats_s[0] == pytest.approx(0.25) and len(grid.beats_s) == 13
    assert all(b - a == pytest.approx(beat) for a, b in zip(grid.beats_s, grid.beats_s[1:]))
    assert grid.downbeats_s == pytest.approx([0.25 + 4 * beat * k for k in range(4)])
    assert (grid.key, grid.time_signature) == ("A minor", "4/4")


def test_a_time_signature_counts_bars_from_bar_one_and_six_eight_counts_dotted_quarters():
    waltz = grid_of(HEARD, GridCorrection(time_signature="3/4"), LENGTH_S)
    assert waltz.beats_s == HEARD.beats_s  # the beats heard stay
    assert waltz.downbeats_s == pytest.approx([0.25, 1.75, 3.25, 4.75, 6.25, 7.75])
    assert (waltz.meter, waltz.corrected) == (3, ("time_signature",))
    compound = grid_of(HEARD, GridCorrection(time_signature="6/8"), LENGTH_S)
    assert compound.meter == 2 and compound.downbeats_s == pytest.approx(HEARD.beats_s[::2])
    assert grid_of(HEARD, GridCorrection(time_signature="12/8"), LENGTH_S).meter == 4


def test_bar_one_moves_the_bars_and_carries_the_beats_before_it_back_as_a_pickup():
    grid = grid_of(HEARD, GridCorrection(bar_one_s=1.3), LENGTH_S)
    # At the heard tempo: two beats before bar one are a pickup.
    assert grid.beats_s[:3] == pytest.approx([0.3, 0.8, 1.3])
    assert grid.downbeats_s == pytest.approx([1.3, 3.3, 5.3, 7.3])
    assert grid.corrected == ("bar_one",)
    # With a tempo too, bar one is the anchor the beats are laid from.
    both = grid_of(HEARD, GridCorrection(tempo_bpm=60.0, bar_one_s=2.5), LENGTH_S)
    assert both.beats_s == pytest.approx([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
    assert both.downbeats_s == pytest.approx([2.5, 6.5])  # bar one and the next; the beats before it a pickup
    assert both.corrected == ("tempo", "bar_one")


def test_a_key_replaces_the_key_and_nothing_else():
    grid = grid_of(HEARD, GridCorrection(key="C major"), LENGTH_S)
    assert grid.key == "C major" and grid.corrected == ("key",)
    assert grid.beats_s == HEARD.beats_s and grid.downbeats_s == HEARD.downbeats_s


def test_a_tempo_typed_where_nothing_was_heard_gives_a_grid_counted_in_four():
    silent = ClipAnalysis(duration_s=LENGTH_S)
    assert grid_of(silent, None, LENGTH_S).tempo_bpm is None
    for heard in (silent, None):
        grid = grid_of(heard, GridCorrection(tempo_bpm=120.0), LENGTH_S)
        assert grid.beats_s == pytest.approx([0.5 * k for k in range(16)])
        assert (grid.meter, grid.time_signature, grid.downbeats_s) == (4, "4/4", pytest.approx([0, 2, 4, 6]))
    # A key or a meter alone over nothing heard: a grid with no beats.
    keyed = grid_of(None, GridCorrection(key="D minor", time_signature="3/4"), LENGTH_S)
    assert (keyed.tempo_bpm, keyed.beats_s, keyed.key, keyed.meter) == (None, (), "D minor", 3)


@pytest.mark.parametrize(
    ("correction", "field"),
    [
        (GridCorrection(tempo_bpm=19.9), "tempo_bpm"),
        (GridCorrection(tempo_bpm=float("nan")), "tempo_bpm"),
        (GridCorrection(time_signature="5/4"), "time_signature"),
        (GridCorrection(bar_one_s=8.5), "bar_one_s"),
        (GridCorrection(bar_one_s=-0.1), "bar_one_s"),
        (GridCorrection(key="H major"), "key"),
        (GridCorrection(key="a minor"), "key"),
        (GridCorrection(key="A minor\n"), "key"),
    ],
)
def test_a_correction_out_of_bounds_is_refused_naming_its_field(correction, field):
    with pytest.raises(InvalidArgument, match=f"^{field} "):
        correction.validated(LENGTH_S)


def test_the_path_grid_is_on_the_contexts_clock_with_the_last_parts_tempo_and_key():
    first = Grid(100.0, (0.0, 0.6, 1.2, 1.8, 2.4), key="C major")
    second = Grid(120.0, (0.25, 0.75, 1.25, 1.75), key="A minor")
    # A 3 s context of a path playing 2 s of the first part (its out point) and 2 s of the second.
    grid = path_grid([(first, 0.0, 2.0), (second, 0.0, 2.0)], 3.0)
    assert grid == PathGrid(120.0, pytest.approx((0.2, 0.8, 1.25, 1.75, 2.25, 2.75)), "A minor")
    assert path_grid([(first, 0.0, 2.0), (None, 0.0, 2.0)], 3.0) is None


def test_the_shortest_clip_is_a_second_and_a_short_one_says_takes_hear_all_of_it():
    with pytest.raises(InvalidArgument, match="0.50 s long.*at least 1 s"):
        root_note(0.5)
    assert root_note(1.0).startswith("a 1.0 s clip: takes will hear all of it")
    assert root_note(3.2) == "a 3.2 s clip: takes will hear all of it, less than the 5 s they usually hear"
    assert root_note(5.0) == ""


# -- the store: a regrid is a move ----------------------------------------------


def test_a_regrid_is_a_move_undone_and_redone_with_its_events(store, build):
    chain, root = build.chain(seconds=8.0)
    node, history = store.set_grid("ann", root.id, GridCorrection(tempo_bpm=90.0, key="E minor"))
    assert node.grid_correction == GridCorrection(tempo_bpm=90.0, key="E minor")
    assert node.grid.tempo_bpm == 90.0 and node.grid.corrected == ("tempo", "key")
    assert history.undo.kind is MoveKind.REGRID and history.redo is None
    last, logged = store.events_after(chain.id, 0)[-2:]
    assert last.kind is EventKind.NODE_UPDATED and last.node.grid_correction == node.grid_correction
    assert logged.kind is EventKind.HISTORY_CHANGED and logged.history == history

    # The whole correction each time: what it leaves out is as heard again.
    node, _ = store.set_grid("ann", root.id, GridCorrection(bar_one_s=1.0))
    assert node.grid_correction == GridCorrection(bar_one_s=1.0)
    assert node.grid.tempo_bpm is None and node.grid.corrected == ("bar_one",)  # no tempo, nothing heard

    store.undo("ann", chain.id)
    assert store.get_node("ann", root.id).grid_correction == GridCorrection(tempo_bpm=90.0, key="E minor")
    _, history = store.undo("ann", chain.id)
    assert store.get_node("ann", root.id).grid_correction is None and history.undo is None
    assert store.events_after(chain.id, 0)[-2].node.grid_correction is None
    move, _ = store.redo("ann", chain.id)
    assert move.kind is MoveKind.REGRID
    assert store.get_node("ann", root.id).grid_correction.tempo_bpm == 90.0
    # A new move forgets what was undone.
    _, history = store.set_grid("ann", root.id, GridCorrection(time_signature="3/4"))
    assert history.redo is None
    assert store.get_node("ann", root.id).grid.meter == 3


def test_a_regrid_is_refused_out_of_bounds_or_without_audio_and_changes_nothing(store, build):
    chain, root = build.chain(seconds=4.0)
    with pytest.raises(InvalidArgument, match="bar_one_s must be within the part: 0 to 4.00 s"):
        store.set_grid("ann", root.id, GridCorrection(bar_one_s=4.5))
    (waiting,) = build.takes(root, ready=False)
    with pytest.raises(Conflict, match="no audio yet"):
        store.set_grid("ann", waiting.id, GridCorrection(tempo_bpm=100.0))
    assert store.history("ann", chain.id).undo is None
    assert store.get_node("ann", root.id).grid_correction is None


def test_a_regrid_hears_the_parts_takes_again_against_the_new_grid(store, build):
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    chain, root = build.chain(seconds=8.0)
    (take,) = build.takes(root)
    clip = replace(HEARD, duration_s=3.0)
    analysed = {"status": "ready", "clip": clip.to_json(), "seam": {"score": 0.7}, "error_message": ""}
    with store.engine.begin() as conn:
        from sparrow_chain.store.tables import nodes

        conn.execute(nodes.update().where(nodes.c.id == take.id).values(analysis=analysed))
    listening.set_grid("ann", root.id, GridCorrection(tempo_bpm=100.0))
    again = listening.get_node("ann", take.id).analysis
    # Heard again: the seam goes until it lands; the take's own clip (its grid) stands meanwhile.
    assert again.status is AnalysisStatus.PENDING and again.seam is None and again.clip == clip
    job = queue.claim("me", 30, kinds=("analysis",))
    assert (job.node_id, job.parent_id) == (take.id, root.id)
    assert listening.get_node("ann", take.id).analysis.clip == clip


def test_a_fork_keeps_the_grid_correction(store, build):
    _, root = build.chain(seconds=4.0)
    store.set_grid("ann", root.id, GridCorrection(tempo_bpm=100.0))
    _, copies = store.fork("ann", root.id, new_id())
    assert copies[0].grid_correction == GridCorrection(tempo_bpm=100.0)


def test_migration_0009_keeps_earlier_nodes_and_moves_as_heard(upgraded_from, old_root):
    from datetime import UTC, datetime

    from sqlalchemy import text

    moment = datetime.now(UTC)

    def fill(conn):
        old_root(conn, moment)
        conn.execute(
            text("INSERT INTO moves (chain_id, seq, kind, node_id, undone, created_at) VALUES ('c', 1, 'commit', 'r', false, :t)"),
            {"t": moment},
        )

    with upgraded_from("0008", fill) as engine:
        store = ChainStore(engine)
        assert store.get_node("ann", "r").grid_correction is None
        assert store.history("ann", "c").undo.kind is MoveKind.COMMIT
        node, history = store.set_grid("ann", "r", GridCorrection(key="G major"))
        assert node.grid.key == "G major" and history.undo.kind is MoveKind.REGRID
