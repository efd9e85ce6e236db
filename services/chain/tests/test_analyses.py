"""Analysis jobs on the one queue: asked when a node's audio is stored, what the
worker heard written back onto the node, with an event."""

from __future__ import annotations

from sparrow_chain.domain import AnalysisStatus, ClipAnalysis, EventKind, NodeAnalysis, Recipe
from sparrow_chain.store import ChainStore, JobQueue
from sparrow_common.ids import new_id

HEARD = NodeAnalysis(
    AnalysisStatus.READY,
    ClipAnalysis(tempo_bpm=120.0, beats_s=(0.5, 1.0), downbeats_s=(0.5,), meter=4, key="A minor",
                 key_confidence=0.9, loudness_lufs=-14.0, peak_dbfs=-1.0, duration_s=2.0),
)


def test_a_stored_node_is_analysed_and_hears_of_it(store, build):
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    chain_id, root_id = new_id(), new_id()
    chain, root = listening.create_chain("ann", chain_id, root_id, "song", "song.wav", build.audio(f"{chain_id}/{root_id}.wav"))
    assert root.analysis.status is AnalysisStatus.PENDING

    job = queue.claim("me", 30, kinds=("analysis",))
    assert (job.node_id, job.parent_id, job.audio_key) == (root.id, None, root.audio.key)
    assert listening.get_node("ann", root.id).analysis.status is AnalysisStatus.ANALYZING
    assert queue.finish(job.id, "me", {"analysis": HEARD}) == []
    analysed = listening.get_node("ann", root.id).analysis
    assert analysed.status is AnalysisStatus.READY and analysed.clip.key == "A minor" and analysed.seam is None
    last = listening.events_after(chain.id, 0)[-1]
    assert last.kind is EventKind.NODE_UPDATED and last.node.analysis.clip.tempo_bpm == 120.0


def test_a_take_is_analysed_once_it_is_ready_and_a_failure_says_why(store, build):
    listening = ChainStore(store.engine, analyze=True)
    queue = JobQueue(store.engine, analyze=True)
    chain_id, root_id = new_id(), new_id()
    _, root = listening.create_chain("ann", chain_id, root_id, "song", "song.wav", build.audio(f"{chain_id}/{root_id}.wav"))
    queue.finish(queue.claim("me", 30, kinds=("analysis",)).id, "me", {"analysis": HEARD})
    (take,) = listening.create_takes("ann", root.id, Recipe(), 1)
    assert take.analysis is None  # nothing to hear before its audio
    generating = queue.claim("me", 30, kinds=("takes",))
    queue.finish(generating.id, "me", {take.id: build.audio(f"{chain_id}/{take.id}.wav")})
    assert listening.get_node("ann", take.id).analysis.status is AnalysisStatus.PENDING
    job = queue.claim("me", 30, kinds=("analysis",))
    assert (job.node_id, job.parent_id) == (take.id, root.id)  # its seam is heard against the parent's path
    queue.fail(job.id, "me", "analysis failed: the worker can't be reached")
    failed = listening.get_node("ann", take.id).analysis
    assert failed.status is AnalysisStatus.ERROR and "can't be reached" in failed.error_message


def test_without_analysis_nodes_carry_none_and_no_job_is_queued(store, build):
    _, root = build.chain()
    assert root.analysis is None
    assert JobQueue(store.engine).claim("me", 30, kinds=("analysis",)) is None


# -- continuing on the bar line -------------------------------------------------

from sparrow_chain.bars import to_bars  # noqa: E402
from sparrow_chain.grid import GridCorrection, grid_of  # noqa: E402

CLIP = ClipAnalysis(tempo_bpm=120.0, meter=4, downbeats_s=tuple(0.3 + 2 * k for k in range(8)))
GRID = grid_of(CLIP, None, 16.8)


def test_bars_start_the_prompt_on_a_downbeat_and_make_whole_bars():
    # A 16.8 s parent at 120 bpm in 4/4 (a bar is 2 s), its first downbeat at 0.3 s.
    aligned = to_bars(Recipe(prompt_duration_s=3.1, duration_s=3.5), GRID, 16.8)
    assert aligned.recipe.prompt_duration_s == 2.5  # from the downbeat at 14.3 s
    assert aligned.recipe.duration_s == 4.0  # two bars
    assert "2 bars of 4/4 at 120.0 bpm" in aligned.note
    # A prompt longer than the parent reaches back on the same grid.
    longer = to_bars(Recipe(prompt_duration_s=20.0, duration_s=1.0), GRID, 16.8)
    assert longer.recipe.prompt_duration_s == 20.5 and longer.recipe.duration_s == 2.0


def test_bars_follow_the_musicians_tempo_meter_and_bar_one():
    # Heard at 120 bpm in 4/4; the musician says 90 bpm in 3/4 from 0.5 s: a bar is 2 s.
    corrected = grid_of(CLIP, GridCorrection(tempo_bpm=90.0, time_signature="3/4", bar_one_s=0.5), 16.8)
    aligned = to_bars(Recipe(prompt_duration_s=3.1, duration_s=3.5), corrected, 16.8)
    assert aligned.recipe.prompt_duration_s == 2.3  # from the downbeat at 14.5 s
    assert aligned.recipe.duration_s == 4.0 and "2 bars of 3/4 at 90.0 bpm" in aligned.note
    # A tempo typed where nothing was heard is enough (counted in four).
    typed = to_bars(Recipe(duration_s=3.5), grid_of(None, GridCorrection(tempo_bpm=60.0), 10.0), 10.0)
    assert typed.recipe.duration_s == 4.0 and "1 bar of 4/4 at 60.0 bpm" in typed.note


def test_without_a_tempo_bars_keep_to_seconds_and_say_why():
    asked = Recipe(prompt_duration_s=3.1, duration_s=3.5)
    for clip, words in ((None, "not analysed"), (ClipAnalysis(), "no steady beat")):
        kept = to_bars(asked, grid_of(clip, None, 10.0), 10.0)
        assert kept.recipe == asked and words in kept.note
