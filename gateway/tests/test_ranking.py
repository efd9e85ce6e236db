"""The takes' ranking: best seam first, and a take suggested as best only when
its seam is judged and scores at least the floor."""

from datetime import UTC, datetime

import pytest

from sparrow_gateway import schemas
from sparrow_gateway.ranking import BEST_SEAM_FLOOR, ranked


def take(name: str, score: float | None, unjudged: str | None = None) -> schemas.Node:
    seam = None
    if score is not None:
        seam = schemas.SeamReport(
            tempo_change_pct=None, beat_offset_ms=None, key_match=None, loudness_step_db=None,
            spectral_jump_db=0.0, fades_out=False, silent_start=False, score=score, notes=[], unjudged=unjudged,
        )
    moment = datetime.now(UTC)
    return schemas.Node(
        id=name, chain_id="c", parent_id="p", status="ready", committed=False, progress=1.0, error_msg=None,
        filename=None, params=None, audio=None, duration_s=None, audio_url=None,
        analysis=schemas.NodeAnalysis(status="ready" if seam else "pending", seam=seam),
        created_at=moment, updated_at=moment,
    )


def test_the_first_is_best_only_when_its_seam_is_judged_and_scores_the_floor():
    assert BEST_SEAM_FLOOR == 0.5
    good = ranked([take("a", 0.4), take("b", 0.8), take("c", None)]).takes
    assert [(t.node.id, t.rank, t.best) for t in good] == [("b", 1, True), ("a", 2, False), ("c", None, False)]
    # Every take scoring below the floor: ranked, none suggested.
    poor = ranked([take("a", 0.0), take("b", 0.0), take("c", 0.49)]).takes
    assert [t.rank for t in poor] == [1, 2, 3] and not any(t.best for t in poor)
    # A seam the figures can't judge (a blip of a path) is unranked and never best, whatever it scores.
    unjudged = "the path is 0.1 s long: too short to hear a beat or a key"
    blip = ranked([take("a", 0.71, unjudged=unjudged), take("b", None), take("c", 0.6)]).takes
    assert [(t.node.id, t.rank, t.best) for t in blip] == [("c", 1, True), ("a", None, False), ("b", None, False)]


@pytest.mark.parametrize("score", [0.5, 1.0])
def test_the_floor_itself_is_enough(score):
    assert ranked([take("a", score)]).takes[0].best is True
