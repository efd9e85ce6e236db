"""A loop of the spine: the stretch a musician selects, snapped to whole bars
where the parts have a grid, before the export worker cuts it and makes it
repeat (RenderSetup.loop).

Spine time is the spine as it plays: each part from its start to its end or
out point, one after another (the beginning of a chain started from words
plays nothing). The bar lines are every part's downbeats (its grid, the
musician's corrections included) within what it plays, and after the last one
heard, the last part's bars carried on to the spine's end, so a loop can close
on the bar line where the spine stops.
"""

from __future__ import annotations

import math

from sparrow_chain.domain import Node
from sparrow_common.errors import InvalidArgument

# A bar line is taken when it is within this much of the spine's end.
END_SLACK_S = 0.01


def bar_lines(spine: list[Node]) -> list[float]:
    """The spine's downbeats in spine seconds, oldest first."""
    lines: list[float] = []
    start = 0.0
    last_bar_s = None
    for node in spine:
        length = node.heard_s
        grid = node.grid
        if grid is not None and grid.downbeats_s:
            lines += [start + d for d in grid.downbeats_s if 0 <= d < length]
            last_bar_s = grid.bar_s
        else:
            last_bar_s = None
        start += length
    if lines and last_bar_s:
        while lines[-1] + last_bar_s <= start + END_SLACK_S:
            lines.append(lines[-1] + last_bar_s)
    return lines


def loop_stretch(spine: list[Node], from_s: float, until_s: float) -> tuple[float, float]:
    """(from_s, until_s) of a loop of `spine`: each end moved to the nearest bar
    line where there are bar lines (a loop at least a bar long), else as
    asked; InvalidArgument for a stretch outside the spine."""
    total = sum(node.heard_s for node in spine)
    if not (math.isfinite(from_s) and math.isfinite(until_s)) or from_s < 0 or until_s <= from_s:
        raise InvalidArgument("a loop runs from a second of the spine to a later one")
    if until_s > total + END_SLACK_S:
        raise InvalidArgument(f"the loop ends at {until_s:.2f} s, past the spine's end at {total:.2f} s")
    lines = bar_lines(spine)
    if len(lines) < 2:
        return from_s, min(until_s, total)
    start = min(lines, key=lambda t: abs(t - from_s))
    end = min(lines, key=lambda t: abs(t - until_s))
    if end <= start:
        later = [t for t in lines if t > start]
        if not later:
            start, end = lines[-2], lines[-1]
        else:
            end = later[0]
    return round(start, 6), round(min(end, total), 6)
