"""A take's recipe: only its knobs go to the worker, and it reads back from the
event log; what the analysis worker heard, typed from its message to the store
and back out on the chain's node, and the analyses an older Sparrow stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sparrow.v1 import analysis_pb2

from sparrow_chain.convert import analysis_to_pb, heard_from_pb
from sparrow_chain.domain import AnalysisStatus, ClipAnalysis, Node, NodeAnalysis, NodeStatus, Recipe, SeamReport
from sparrow_chain.store.convert import node_from_json, node_to_json
from sparrow_common.convert import knobs_from_pb, knobs_to_pb
from sparrow_common.errors import InvalidArgument
from sparrow_common.params import Knobs

def test_only_the_knobs_of_a_recipe_go_to_the_worker():
    recipe = Recipe(prompt="brushed drums", seed=7, align="bars", prompt_source="drums")
    assert recipe.knobs == Knobs(prompt="brushed drums", seed=7)
    assert knobs_from_pb(knobs_to_pb(recipe.knobs)) == recipe.knobs
    assert set(knobs_to_pb(recipe.knobs).DESCRIPTOR.fields_by_name).isdisjoint({"align", "prompt_source"})


@pytest.mark.parametrize(
    "change, field",
    [({"align": "beats"}, "align"), ({"prompt_source": "Drums!"}, "prompt_source"), ({"duration_s": 500}, "duration_s")],
)
def test_a_recipe_checks_what_the_chain_works_out_and_its_knobs(change, field):
    assert Recipe().validated() == Recipe()
    with pytest.raises(InvalidArgument, match=f"^{field}"):
        Recipe(**change).validated()


CLIP = analysis_pb2.ClipAnalysis(
    tempo_bpm=96.0, beats_s=[0.4, 1.025], downbeats_s=[0.4], meter=3, key="F# minor", key_confidence=0.7,
    loudness_lufs=-16.5, peak_dbfs=-0.8, duration_s=6.0, tempo_confidence=0.8, time_signature="3/4",
    key_runner_up="A major",
)
SEAM = analysis_pb2.SeamReport(
    tempo_change_pct=0.5, key_match="relative", spectral_jump_db=4.0, fades_out=True, score=0.6,
    notes=["tempo +0.5%", "fades out"], weakest="fades out",
)


def test_what_the_worker_heard_comes_back_out_as_it_was_heard_after_the_store():
    heard = heard_from_pb(analysis_pb2.AnalyzeDone(analysis=CLIP, seam=SEAM))
    assert heard.status is AnalysisStatus.READY and heard.clip.key == "F# minor" and heard.seam.score == 0.6
    stored = NodeAnalysis.from_json(heard.to_json())
    assert stored == heard
    sent = analysis_to_pb(stored)
    assert (sent.clip, sent.seam) == (CLIP, SEAM)
    # Unset stays unset: no beat offset, no loudness step were measured.
    assert not sent.seam.HasField("beat_offset_ms") and not sent.seam.HasField("loudness_step_db")


def test_a_root_has_no_seam_and_silence_no_loudness():
    heard = heard_from_pb(analysis_pb2.AnalyzeDone(analysis=analysis_pb2.ClipAnalysis(duration_s=2.0)))
    assert heard.seam is None and heard.clip.loudness_lufs is None and heard.clip.tempo_bpm is None
    sent = analysis_to_pb(heard)
    assert not sent.HasField("seam") and not sent.clip.HasField("loudness_lufs")


def test_an_analysis_stored_by_an_older_sparrow_reads_as_the_same_figures():
    older = {
        "status": "ready", "error_message": "",
        # None for nothing heard, and no tempo_confidence, time_signature or key_runner_up yet.
        "clip": {"tempo_bpm": None, "beats_s": [], "downbeats_s": [], "meter": None, "key": None,
                 "key_confidence": 0.0, "loudness_lufs": -20.0, "peak_dbfs": -3.0, "duration_s": 4.0},
        "seam": {"tempo_change_pct": None, "beat_offset_ms": None, "key_match": None, "loudness_step_db": -1.0,
                 "spectral_jump_db": 2.0, "fades_out": False, "silent_start": False, "score": 0.4,
                 "notes": ["quieter"]},
    }
    assert NodeAnalysis.from_json(older) == NodeAnalysis(
        AnalysisStatus.READY,
        ClipAnalysis(duration_s=4.0, loudness_lufs=-20.0, peak_dbfs=-3.0),
        SeamReport(score=0.4, loudness_step_db=-1.0, spectral_jump_db=2.0, notes=("quieter",)),
    )


def test_a_node_logged_before_it_said_recipe_reads_its_recipe_back():
    now = datetime(2026, 1, 2, tzinfo=UTC)
    take = Node(
        "t", "c", "r", NodeStatus.PENDING, False, Recipe(prompt="organ", seed=3, align="bars"), None, "", 0.0, "",
        now, now,
    )
    logged = node_to_json(take)
    assert node_from_json(logged) == take
    older = {("params" if key == "recipe" else key): value for key, value in logged.items()}
    assert node_from_json(older).recipe == take.recipe
