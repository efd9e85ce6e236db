"""Continuing on the bar line (`align: "bars"`): the prompt starts on a downbeat
of the path, and the take lasts whole bars at the parent's tempo, from the
parent's grid (what the analysis worker heard in it, with the musician's
corrections over it: grid.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from sparrow_chain.grid import Grid
from sparrow_common.params import RANGES, Knobs


# A take's recipe, or the knobs alone: what comes back is what went in.
K = TypeVar("K", bound=Knobs)


@dataclass(frozen=True)
class Aligned(Generic[K]):
    # As asked, the prompt and the length set to bars.
    recipe: K
    # In words, for the node.
    note: str


def to_bars(recipe: K, grid: Grid | None, parent_s: float) -> Aligned[K]:
    """`recipe` with the prompt set to start on a downbeat of the path (the
    one whose distance to the parent's end is nearest the asked prompt) and the
    length to whole bars (the nearest number to the asked length, at least one),
    from the parent's `grid` (None: neither heard nor corrected); as asked, with
    the reason, without a tempo. Downbeats before the parent's first are carried
    back a bar at a time: the path before it is heard at the same tempo."""
    if grid is None:
        return Aligned(recipe, "kept to seconds: the parent was not analysed")
    tempo, meter, downbeats = grid.tempo_bpm, grid.meter, list(grid.downbeats_s)
    if not tempo or not meter or not downbeats:
        return Aligned(recipe, "kept to seconds: the parent has no steady beat")
    bar = grid.bar_s
    low, high = RANGES["prompt_duration_s"]
    starts = [d for d in downbeats if d < parent_s]
    earlier = starts[0] - bar if starts else parent_s - bar
    while parent_s - earlier <= high:
        starts.insert(0, earlier)
        earlier -= bar
    prompts = [parent_s - s for s in starts if low <= parent_s - s <= high]
    if not prompts:
        return Aligned(recipe, "kept to seconds: no downbeat lies within a prompt's reach")
    prompt = min(prompts, key=lambda p: abs(p - recipe.prompt_duration_s))
    longest = int(RANGES["duration_s"][1] // bar)
    bars = min(max(1, round(recipe.duration_s / bar)), longest)
    aligned = replace(recipe, prompt_duration_s=round(prompt, 3), duration_s=round(bars * bar, 3))
    note = (
        f"on the bar line: {bars} bar{'s' if bars > 1 else ''} of {grid.time_signature or meter} at {tempo:.1f} bpm, "
        f"heard from a downbeat {prompt:.2f} s before the end"
    )
    return Aligned(aligned, note)
