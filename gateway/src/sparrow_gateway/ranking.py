"""Takes ranked by their seams: the best continuation of a part first, and an
honest word on whether any of them is worth suggesting."""

from __future__ import annotations

from sparrow_gateway import schemas

# The least seam score a take needs to be suggested as the best: below it every
# take joins its part audibly, and calling the least bad one "best" says more
# than the figures know. The editor (web/js/listening.js) mirrors this value.
BEST_SEAM_FLOOR = 0.5


def _seam(node: schemas.Node) -> schemas.SeamReport | schemas.Rejoin | None:
    """The join a take is ranked by: its seam, or for a take that replaces a
    stretch the worse of its seam and its rejoin (an unjudged one first), for
    an intro its rejoin alone (nothing plays before it)."""
    analysis = node.analysis
    if analysis is None or analysis.status != "ready":
        return None
    joins = [join for join in (analysis.seam, analysis.rejoin) if join is not None]
    return min(joins, key=lambda join: (not join.unjudged, join.score)) if joins else None


def ranked(takes: list[schemas.Node]) -> schemas.RankedTakes:
    """The takes whose seams were judged, best score first (rank 1 up); then
    those heard whose figures said too little to judge (`unjudged`), and those
    not heard yet, each in their order, unranked. Rank 1 is `best` only when it
    scores at least BEST_SEAM_FLOOR: when every take scores below it, none is.
    A take that replaces a stretch ranks by the worse of its two joins."""
    judged = sorted(
        (n for n in takes if _seam(n) is not None and not _seam(n).unjudged), key=lambda n: -_seam(n).score
    )
    unjudged = [n for n in takes if _seam(n) is not None and _seam(n).unjudged]
    waiting = [n for n in takes if _seam(n) is None]
    return schemas.RankedTakes(
        takes=[
            schemas.RankedTake(rank=i + 1, best=i == 0 and _seam(n).score >= BEST_SEAM_FLOOR, node=n)
            for i, n in enumerate(judged)
        ]
        + [schemas.RankedTake(rank=None, best=False, node=n) for n in unjudged + waiting]
    )
