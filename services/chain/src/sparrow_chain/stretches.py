"""Replacing a stretch of a part, or writing an intro: what may be replaced,
and how long its takes run.

A take that replaces the seconds `from_s` to `until_s` of a part continues the
part from `from_s` (the model hears the path up to there, as any take from a
point) and runs on past `until_s`, so that the part can come back where the two
sound most alike: the analysis worker listens for that point, the rejoin, on
the part's downbeats within a bar of `until_s` (services/analysis,
engine/rejoin.py). So the take lasts the stretch, a bar more and a beat for
the crossfade there, at the part's tempo (2 s more without one). Committing it
is a move (store/moves.py): the part plays to `from_s`, then the take to the
rejoin, then **the rest** of the part from there.

An intro is the same move before the clip: takes of the root from its start
(`from_s` 0), written from the words alone (the path before the root is
empty), `until_s` seconds long (the knobs' duration_s) before the clip comes in
at its first downbeat, and a bar and a beat more to hear how they lead in.
Committed, the root plays nothing, then the intro, then the rest of the root
from its first downbeat.
"""

from __future__ import annotations

import math
from dataclasses import replace

from sparrow_chain.bars import Aligned
from sparrow_chain.domain import Node, Recipe
from sparrow_common.errors import Conflict, InvalidArgument
from sparrow_common.params import RANGES

# The shortest stretch that can be replaced, and what must stay of the part after it.
MIN_STRETCH_S = 1.0
MIN_REST_S = 0.5
# Past the stretch without a tempo: where the part may come back is looked for this far.
UNTIMED_REACH_S = 2.0


def check_stretch(parts: list[Node], from_s: float | None, until_s: float) -> float:
    """The seconds the spine plays from `from_s` of the first of `parts` (the
    parent) to `until_s` of the last (the parent itself, or a later part of the
    spine, the parts between them between); InvalidArgument unless that is a
    stretch a take can replace: at least MIN_STRETCH_S, inside what the spine
    plays of each (from its in point to its out point), MIN_REST_S of the last
    left after it."""
    if from_s is None:
        raise InvalidArgument("until_s needs from_s: a replaced stretch starts at from_s and ends at until_s")
    if not math.isfinite(until_s):
        raise InvalidArgument("until_s must be a time inside the part, in seconds")
    last = parts[-1]
    if len(parts) > 1 and not (last.in_s or 0.0) < until_s:
        raise InvalidArgument(f"until_s must be inside the part it ends in: it plays from {last.in_s or 0.0:.2f} s")
    seconds = seconds_between(parts, from_s, until_s)
    if seconds < MIN_STRETCH_S - 1e-9:
        raise InvalidArgument(
            f"a stretch to replace lasts at least {MIN_STRETCH_S:g} s; from {from_s:g} s to {until_s:g} s is "
            f"{max(seconds, 0):.2f} s"
        )
    end = last.end_s
    if until_s > end - MIN_REST_S + 1e-9:
        raise InvalidArgument(
            f"until_s must leave at least {MIN_REST_S:g} s of the part after the stretch (it plays to "
            f"{end:.2f} s); to replace its end, continue from from_s instead"
        )
    return seconds


def seconds_between(parts: list[Node], from_s: float, at_s: float) -> float:
    """The spine's seconds from `from_s` of the first of `parts` to `at_s` of
    the last: the first itself, or a later part of the spine with the parts
    between played whole (the clock of a take that replaces that stretch)."""
    if len(parts) == 1:
        return at_s - from_s
    between = sum(part.heard_s for part in parts[1:-1])
    return parts[0].end_s - from_s + between + at_s - (parts[-1].in_s or 0.0)


def check_intro(parent: Node, from_s: float | None, until_s: float | None) -> None:
    """InvalidArgument (or Conflict) unless an intro can be written before `parent`."""
    if from_s is not None or until_s is not None:
        raise InvalidArgument("an intro leads into the clip from its start: ask for it without from_s or until_s")
    if not parent.is_root:
        raise InvalidArgument("an intro leads into the chain's first part: ask the root for it")
    if parent.audio is None or parent.audio.duration_s <= 0:
        raise Conflict("this chain starts from words: there is no clip to lead into yet")
    if parent.out_s == 0.0:
        raise Conflict("the spine starts with an intro already: uncommit it to write another")


def first_downbeat(parent: Node) -> float:
    """Where the clip's first bar starts, as an intro leads into it: its first
    downbeat heard, carried back a bar at a time while a bar fits before it
    (a tracker seldom hears the very first beat of a clip), else 0."""
    grid = parent.grid
    if grid is None or not grid.downbeats_s:
        return 0.0
    first = grid.downbeats_s[0]
    if grid.bar_s:
        while first - grid.bar_s >= -0.05:
            first -= grid.bar_s
    return max(first, 0.0)


def to_intro(recipe: Recipe, parent: Node) -> Aligned[Recipe]:
    """`recipe` lasting the intro asked (its duration_s) and what the rejoin
    needs after it, with its note."""
    grid = parent.grid
    first = first_downbeat(parent) if grid is not None and grid.downbeats_s else None
    stretched = _longer(recipe, recipe.duration_s, parent, "an intro")
    where = f"at its first downbeat, {first:.2f} s in" if first is not None else "at its start (no downbeat heard yet)"
    note = (
        f"an intro of {recipe.duration_s:.2f} s before the clip comes in {where}: runs "
        f"{stretched.recipe.duration_s:.2f} s ({stretched.note}) to hear how well it leads in"
    )
    return Aligned(stretched.recipe, note)


def to_stretch(recipe: Recipe, last: Node, from_s: float, until_s: float, seconds: float, parts: int = 1) -> Aligned[Recipe]:
    """`recipe` lasting the stretch (`seconds`, ending in `last`, across
    `parts` parts) and what the rejoin needs after it (a bar and a beat at
    `last`'s tempo, else UNTIMED_REACH_S), with its note; InvalidArgument when
    that is longer than a take can be."""
    stretched = _longer(recipe, seconds, last, f"a stretch of {seconds:.1f} s")
    where = f"{from_s:.2f} to {until_s:.2f} s" if parts == 1 else f"{from_s:.2f} s to {until_s:.2f} s of the part {parts - 1} on"
    note = (
        f"replaces {where}: runs {stretched.recipe.duration_s:.2f} s (the stretch and "
        f"{stretched.note}) for the part to come back where they sound most alike"
    )
    return Aligned(stretched.recipe, note)


def _longer(recipe: Recipe, seconds: float, parent: Node, what: str) -> Aligned[Recipe]:
    """`recipe` lasting `seconds` and a bar and a beat more at the parent's
    tempo (else UNTIMED_REACH_S), the words for that more as its note;
    InvalidArgument naming `what` when that is longer than a take can be."""
    grid = parent.grid
    if grid is not None and grid.bar_s:
        after, why = grid.bar_s + grid.beat_s, f"a bar and a beat at {grid.tempo_bpm:.1f} bpm"
    else:
        after, why = UNTIMED_REACH_S, f"{UNTIMED_REACH_S:g} s, the part having no tempo"
    longest = RANGES["duration_s"][1]
    length = round(seconds + after, 3)
    if length > longest:
        raise InvalidArgument(
            f"{what} is too long: its takes would run {length:.1f} s ({why} more), and a take lasts at most {longest:g} s"
        )
    return Aligned(replace(recipe, duration_s=length), why)
