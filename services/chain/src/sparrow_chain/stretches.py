"""Replacing a stretch of a part: what may be replaced, and how long its takes run.

A take that replaces the seconds `from_s` to `until_s` of a part continues the
part from `from_s` (the model hears the path up to there, as any take from a
point) and runs on past `until_s`, so that the part can come back where the two
sound most alike: the analysis worker listens for that point, the rejoin, on
the part's downbeats within a bar of `until_s` (services/analysis,
engine/rejoin.py). So the take lasts the stretch, a bar more and a beat for
the crossfade there, at the part's tempo (2 s more without one). Committing it
is a move (store/moves.py): the part plays to `from_s`, then the take to the
rejoin, then **the rest** of the part from there.
"""

from __future__ import annotations

import math
from dataclasses import replace

from sparrow_chain.bars import Aligned
from sparrow_chain.domain import Node, Recipe
from sparrow_common.errors import InvalidArgument
from sparrow_common.params import RANGES

# The shortest stretch that can be replaced, and what must stay of the part after it.
MIN_STRETCH_S = 1.0
MIN_REST_S = 0.5
# Past the stretch without a tempo: where the part may come back is looked for this far.
UNTIMED_REACH_S = 2.0


def check_stretch(parent: Node, from_s: float | None, until_s: float) -> None:
    """InvalidArgument unless `from_s`..`until_s` is a stretch of `parent` as the
    spine plays it (from its in point to its out point) that a take can replace."""
    if from_s is None:
        raise InvalidArgument("until_s needs from_s: a replaced stretch starts at from_s and ends at until_s")
    if not math.isfinite(until_s):
        raise InvalidArgument("until_s must be a time inside the part, in seconds")
    if until_s - from_s < MIN_STRETCH_S - 1e-9:
        raise InvalidArgument(
            f"a stretch to replace lasts at least {MIN_STRETCH_S:g} s; {from_s:g} to {until_s:g} s is "
            f"{max(until_s - from_s, 0):.2f} s"
        )
    end = parent.end_s
    if until_s > end - MIN_REST_S + 1e-9:
        raise InvalidArgument(
            f"until_s must leave at least {MIN_REST_S:g} s of the part after the stretch (it plays to "
            f"{end:.2f} s); to replace its end, continue from from_s instead"
        )


def to_stretch(recipe: Recipe, parent: Node, from_s: float, until_s: float) -> Aligned[Recipe]:
    """`recipe` lasting the stretch and what the rejoin needs after it (a bar
    and a beat at the parent's tempo, else UNTIMED_REACH_S), with its note;
    InvalidArgument when that is longer than a take can be."""
    grid = parent.grid
    stretch = until_s - from_s
    if grid is not None and grid.tempo_bpm:
        beat = 60.0 / grid.tempo_bpm
        after, why = beat * ((grid.meter or 4) + 1), f"a bar and a beat at {grid.tempo_bpm:.1f} bpm"
    else:
        after, why = UNTIMED_REACH_S, f"{UNTIMED_REACH_S:g} s, the part having no tempo"
    longest = RANGES["duration_s"][1]
    length = round(stretch + after, 3)
    if length > longest:
        raise InvalidArgument(
            f"a stretch of {stretch:.1f} s is too long to replace: its takes would run {length:.1f} s "
            f"(the stretch and {why}), and a take lasts at most {longest:g} s"
        )
    note = (
        f"replaces {from_s:.2f} to {until_s:.2f} s: runs {length:.2f} s (the stretch and {why}) "
        "for the part to come back where they sound most alike"
    )
    return Aligned(replace(recipe, duration_s=length), note)
