"""Takes ranked by their seams: the best continuation of a part first, and an
honest word on whether any of them is worth suggesting."""

from __future__ import annotations

from sparrow_gateway import schemas

# The least seam score a take needs to be suggested as the best: below it every
# take joins its part audibly, and calling the least bad one "best" says more
# than the figures know. The editor (web/js) mirrors this value.
BEST_SEAM_FLOOR = 0.5


def _score(node: schemas.Node) -> float | None:
    analysis = node.analysis
    if analysis is None or analysis.status != "ready" or analysis.seam is None:
        return None
    return analysis.seam.score


def _best(node: schemas.Node) -> bool:
    """Whether the first of the ranking deserves the name: its seam judged and
    scoring at least BEST_SEAM_FLOOR."""
    seam = node.analysis.seam
    return not seam.unjudged and seam.score >= BEST_SEAM_FLOOR


def ranked(takes: list[schemas.Node]) -> schemas.RankedTakes:
    """Best seam first (rank 1); takes not heard yet after, in their order,
    unranked. Rank 1 is `best` only when its seam is judged and scores at least
    BEST_SEAM_FLOOR; otherwise no take is."""
    heard = sorted((n for n in takes if _score(n) is not None), key=lambda n: -_score(n))
    waiting = [n for n in takes if _score(n) is None]
    return schemas.RankedTakes(
        takes=[schemas.RankedTake(rank=i + 1, best=i == 0 and _best(n), node=n) for i, n in enumerate(heard)]
        + [schemas.RankedTake(rank=None, best=False, node=n) for n in waiting]
    )
