"""Glue for a loop: a bar written to close it (an export's `loop` with `glue`).

A loop cut from the spine wraps from its end straight back to its start, which
is seamless only where the music already repeats. With glue, Sparrow writes
the wrap the way a producer would: takes that continue the spine from the
loop's end for a bar (and a beat, for the crossfade), each heard against the
loop's start as the rest of a replaced stretch is (the analysis worker's
rejoin, the loop's first downbeat placed a bar into the take), and the one that
leads back into it best closes the loop: the loop is then the stretch and that
bar, made to repeat by the export worker as any loop.

The takes are written and heard for the export alone, straight from the
generation and analysis workers (no nodes, nothing stored): the export call
waits for them, sending its progress meanwhile. Without an analysis worker the
first take closes the loop, a bar long.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import grpc
import numpy as np
from sparrow.v1 import analysis_pb2

from sparrow_chain.convert import heard_from_pb
from sparrow_chain.domain import Knobs, Node, Rejoin
from sparrow_chain.kinds import analysis as listening
from sparrow_chain.kinds import takes as writing
from sparrow_chain.kinds.paths import path_tail, tail
from sparrow_common.errors import Conflict, from_downstream

# Takes written to choose from, and a loop's bar where the part has no tempo.
GLUE_TAKES = 2
UNTIMED_BAR_S = 2.0


@dataclass(frozen=True)
class Glue:
    """The take that closes a loop: its audio (a WAV), how much of it plays
    before the loop's start comes round, and how well it leads back (None:
    not heard)."""

    audio: bytes
    seconds: float
    rejoin: Rejoin | None = None


@dataclass(frozen=True)
class Glued:
    """What the export renders instead: the spine up to the loop's end, the
    glue after it, and the loop over both (spine seconds)."""

    spine: list[Node]
    glue: Glue
    loop: tuple[float, float]


def loop_end(spine: list[Node], until_s: float) -> tuple[int, float]:
    """The spine's part that plays at `until_s` (spine seconds; at a join, the
    part before it) and the second of its own audio there."""
    start = 0.0
    for index, node in enumerate(spine):
        if until_s <= start + node.heard_s + 1e-6 or index == len(spine) - 1:
            return index, (node.in_s or 0.0) + min(until_s - start, node.heard_s)
        start += node.heard_s
    raise Conflict("the spine has no audio to loop")


def bar_of(node: Node) -> tuple[float, float, float | None]:
    """A bar and a beat of the part, in seconds, and its tempo (None: no
    tempo, a bar of UNTIMED_BAR_S and a quarter of it a beat)."""
    grid = node.grid
    if grid is not None and grid.bar_s:
        return grid.bar_s, grid.beat_s, grid.tempo_bpm
    return UNTIMED_BAR_S, UNTIMED_BAR_S / 4, None


async def glued(
    spine: list[Node], loop: tuple[float, float], takes: writing.Takes, heard: listening.Analysis | None
) -> Glued:
    """The loop `loop` of `spine` closed by the best of GLUE_TAKES takes that
    continue it from its end for a bar. Conflict in words when the workers
    can't write them."""
    a, b = loop
    index, t_b = loop_end(spine, b)
    part = spine[index]
    bar, beat, tempo = bar_of(part)
    knobs = part.recipe.knobs if part.recipe is not None else Knobs()
    knobs = replace(knobs, duration_s=round(bar + beat, 3), seed=None)
    from_s = t_b if t_b < part.audio.duration_s - 0.01 else None
    context = await takes.audio.run(path_tail, takes.takes, takes.blobs, part.id, knobs.prompt_duration_s, from_s)
    written = await _write(takes, knobs, context)
    glue = Glue(written[0], bar)
    if heard is not None:
        start = await takes.audio.run(_loop_start, takes.blobs, spine, a, bar, beat)
        asked = analysis_pb2.RejoinAsked(asked_s=bar, downbeats_s=[bar], beats_s=[bar])
        if tempo is not None:
            asked.tempo_bpm = tempo
        stretch = listening.Stretch(start, asked, a - bar)
        rejoins = [await _rejoin(heard, audio, stretch) for audio in written]
        best = max(range(len(written)), key=lambda i: rejoins[i].score if rejoins[i] else -1.0)
        chosen = rejoins[best]
        glue = Glue(written[best], chosen.take_s if chosen and chosen.take_s else bar, chosen)
    cut = [*spine[:index], replace(part, out_s=t_b)]
    return Glued(cut, glue, (a, b + glue.seconds))


async def _write(takes: writing.Takes, knobs: Knobs, context: bytes) -> list[bytes]:
    """GLUE_TAKES takes of `knobs` continuing `context`, straight from the generation worker."""
    seeds = [int(s) for s in np.random.default_rng().integers(0, 2**53, GLUE_TAKES)]
    files: dict[int, list[bytes]] = {i: [] for i in range(GLUE_TAKES)}
    try:
        async for reply in takes.generate(knobs, seeds, writing.Heard(context, None)):
            read = writing.read(reply)
            if isinstance(read, writing.Chunk):
                files[read.key].append(read.data)
    except grpc.aio.AioRpcError as error:
        raise from_downstream(error.code().name, error.details() or "", "generation") from None
    if not all(files.values()):
        raise Conflict("the generation worker ended before writing the loop's glue; export it again")
    return [b"".join(files[i]) for i in range(GLUE_TAKES)]


async def _rejoin(heard: listening.Analysis, audio: bytes, stretch: listening.Stretch) -> Rejoin | None:
    """How well a glue take leads back into the loop's start (None: not heard)."""

    async def clip() -> AsyncIterator[bytes]:
        yield audio

    try:
        async for reply in heard.analyze(clip(), None, None, stretch):
            if reply.WhichOneof("part") == "done":
                return heard_from_pb(reply.done, stretch.offset_s).rejoin
    except grpc.aio.AioRpcError:
        return None  # not heard: another take may be, or the first closes the loop
    return None


def _loop_start(blobs, spine: list[Node], a: float, bar: float, beat: float) -> bytes:
    """The spine from a bar before `a` to a bar and a beat after it, as a WAV
    (silence where the spine starts later than a bar before it)."""
    until = a + bar + beat
    parts, start = [], 0.0
    for node in spine:
        if start >= until:
            break
        if node.heard_s > 0:
            end = (node.in_s or 0.0) + min(until - start, node.heard_s)
            parts.append((node.audio, end, node.in_s))
        start += node.heard_s
    return tail(blobs, parts, until - max(a - bar, 0.0), silence_s=max(bar - a, 0.0))
