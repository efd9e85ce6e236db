"""Takes ranked by their seams: the best continuation of a part first."""

from __future__ import annotations

from sparrow_gateway import schemas


def _score(node: schemas.Node) -> float | None:
    analysis = node.analysis
    if analysis is None or analysis.status != "ready" or analysis.seam is None:
        return None
    return analysis.seam.score


def ranked(takes: list[schemas.Node]) -> schemas.RankedTakes:
    """Best seam first (rank 1); takes not heard yet after, in their order, unranked."""
    heard = sorted((n for n in takes if _score(n) is not None), key=lambda n: -_score(n))
    waiting = [n for n in takes if _score(n) is None]
    return schemas.RankedTakes(
        takes=[schemas.RankedTake(rank=i + 1, node=n) for i, n in enumerate(heard)]
        + [schemas.RankedTake(rank=None, node=n) for n in waiting]
    )
