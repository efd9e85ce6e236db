"""Analysis: a node's audio (and, for a take, the last seconds of the path it
continues, with that path's grid; for a take that replaces a stretch, the part
from its first sample on, to hear where the part comes back, and for an intro
the clip it leads into) to the analysis
worker, what it heard onto the node (store/analyses.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from dataclasses import dataclass

from sparrow.v1 import analysis_pb2, common_pb2

from sparrow_chain.audio_work import AudioWork
from sparrow_chain.config import Settings
from sparrow_chain.convert import heard_from_pb
from sparrow_chain.domain import Node
from sparrow_chain.grid import PathGrid, path_grid
from sparrow_chain.job import Dispatch, Waits
from sparrow_chain.kinds.paths import audio_of, heard_soon, part_called, tail
from sparrow_chain.store import Takes
from sparrow_chain.store.analyses import ClaimedAnalysis
from sparrow_chain.store.base import ANALYSIS
from sparrow_chain.stretches import first_downbeat, seconds_between
from sparrow_chain.workers import Done, Worker, progress_of
from sparrow_common import request_id
from sparrow_common.audio import split, wav_frames
from sparrow_common.channels import Requests, its_error_raised

# A take's seam is heard against this much of the path before it.
SEAM_CONTEXT_S = 12.0
# Of the part a take replaces a stretch of, this much past the asked end is
# sent (the rejoin is looked for within a bar of it, and heard a beat on).
REJOIN_REACH_S = 8.0


def reader(offset_s: float):
    """How to read one AnalyzeResponse: progress, or done (what was heard: a
    ready NodeAnalysis, its rejoin in the parent's seconds: the part audio sent
    began `offset_s` into the parent)."""

    def read(reply) -> object:
        part = reply.WhichOneof("part")
        if part == "progress":
            return progress_of(reply.progress)
        if part == "done":
            return Done([], heard_from_pb(reply.done, offset_s))
        return None

    return read


@dataclass(frozen=True)
class Stretch:
    """What the worker hears to find where a part comes back after a take that
    replaces a stretch of it (or where the clip comes in after an intro): the
    part as a WAV on the take's clock (the take's first sample at its start),
    where it should come back, with its grid, on that clock, and where that
    clock's 0 is in the part (`offset_s`)."""

    part: bytes
    asked: analysis_pb2.RejoinAsked
    offset_s: float


def stretch_heard(blobs, parts: list[Node], from_s: float, until_s: float) -> Stretch:
    """For a take that replaces `from_s` of the first of `parts` (its parent) to
    `until_s` of the last (the parent again, or a later part of the spine, the
    parts between played whole): the spine from `from_s` to a little past
    `until_s` (within what it plays of the last: to its out point when one
    lies past the stretch, else to its end), and the rejoin asked near
    `until_s`, on the last part's downbeats. For an intro (`from_s` 0, `until_s`
    seconds long): the clip placed so that its first downbeat falls `until_s`
    into the take (silence before it when the intro is the longer), the rejoin
    asked there alone."""
    parent, last = parts[0], parts[-1]
    grid = last.grid
    if from_s == 0.0:
        first = first_downbeat(last)
        offset = first - until_s
        end = min(parent.audio.duration_s, first + REJOIN_REACH_S)
        start = max(offset, 0.0)
        placed = tail(
            blobs, [(parent.audio, end, start or None)], end - start, [part_called(parent)], silence_s=max(-offset, 0.0)
        )
        asked = analysis_pb2.RejoinAsked(asked_s=until_s, downbeats_s=[until_s], beats_s=[until_s])
        if grid is not None and grid.tempo_bpm is not None:
            asked.tempo_bpm = grid.tempo_bpm
        return Stretch(placed, asked, offset)
    end = last.out_s if last.out_s is not None and last.out_s > until_s else last.audio.duration_s
    end = min(end, until_s + REJOIN_REACH_S)
    # The last part's clock: where it starts to be heard, and when on the take's.
    start = from_s if len(parts) == 1 else (last.in_s or 0.0)
    before = seconds_between(parts, from_s, start)
    if len(parts) == 1:
        heard = [(parent.audio, end, from_s)]
    else:
        between = [(p.audio, p.end_s, p.in_s) for p in parts[1:-1]]
        heard = [(parent.audio, parent.end_s, from_s), *between, (last.audio, end, start)]
    part = tail(blobs, heard, before + end - start, [part_called(p) for p in parts])
    def on(t: float) -> float:  # the last part's seconds on the take's clock
        return round(before + t - start, 6)

    asked = analysis_pb2.RejoinAsked(asked_s=on(until_s))
    if grid is not None:
        asked.downbeats_s.extend(on(d) for d in grid.downbeats_s if start <= d < end)
        asked.beats_s.extend(on(b) for b in grid.beats_s if start <= b < end)
        if grid.tempo_bpm is not None:
            asked.tempo_bpm = grid.tempo_bpm
    return Stretch(part, asked, start - before)


class Analysis:
    """The analysis kind: a node's audio (and, for a take, the path before it)
    to the analysis worker, what it heard onto the node."""

    name = ANALYSIS
    what = "analysis"

    def __init__(self, worker: Worker, takes: Takes, blobs, audio: AudioWork, settings: Settings, on_change):
        self.worker = worker
        self.takes = takes
        self.blobs = blobs
        self.audio = audio
        self.settings = settings
        self.on_change = on_change

    def changed(self, job: ClaimedAnalysis) -> None:
        self.on_change(job.chain_id)

    async def run(self, job: ClaimedAnalysis, dispatch: Dispatch) -> None:
        context, grid, stretch = None, None, None
        if job.parent_id is not None:
            path = await asyncio.to_thread(self.takes.context_path, job.parent_id, SEAM_CONTEXT_S, job.from_s)
            if not path:
                raise RuntimeError("the parent has no audio")
            if heard_soon(path[-1].node):
                # The seam is measured against the parent's grid; without it (it failed), against none.
                parent_job = await asyncio.to_thread(self.takes.analysis_job, path[-1].node.id)
                raise Waits([parent_job] if parent_job else [], None)
            parts = [(heard.node.audio, heard.end_s, heard.start_s) for heard in path]
            names = [part_called(heard.node) for heard in path]
            context = await self.audio.run(tail, self.blobs, parts, SEAM_CONTEXT_S, names)
            # The seam is measured against the path's grid as the chain uses it (corrections included).
            grid = path_grid(
                [(heard.node.grid, heard.start_s or 0.0, (heard.start_s or 0.0) + heard.seconds) for heard in path],
                SEAM_CONTEXT_S,
            )
            if wav_frames(context) == 0:  # nothing before it (an intro, a chain's beginning): no seam
                context, grid = None, None
            if job.until_s is not None:
                parts = [path[-1].node]
                if job.until_node_id is not None:
                    parts = await asyncio.to_thread(self.takes.path_between, job.parent_id, job.until_node_id)
                    if not parts:
                        raise RuntimeError("the part the stretch runs into is gone")
                stretch = await self.audio.run(stretch_heard, self.blobs, parts, job.from_s, job.until_s)
        await dispatch.wait_for_worker(job, self.worker)
        clip = Requests(audio_of(self.blobs, job.audio_key, "the part to hear"))
        call = self.analyze(clip, context, grid, stretch)
        with its_error_raised(clip):  # a clip gone mid-call fails the job in words
            done = await dispatch.follow(job, call, reader(stretch.offset_s if stretch is not None else 0.0))
        if done is None:
            raise RuntimeError("the analysis worker ended the call without an answer")
        await dispatch.end(job, {"analysis": done.result})

    def analyze(
        self, clip: AsyncIterable[bytes], context: bytes | None, grid: PathGrid | None = None,
        stretch: Stretch | None = None,
    ):
        """The analysis worker's call: what it hears in the clip (an audio file
        whose bytes `clip` yields) and, with `context` (the path it continues, a
        WAV), at its seam, measured against `grid` (the path's grid on the
        context's clock) when given; with `stretch`, where the part comes back."""
        setup = analysis_pb2.AnalyzeSetup()
        if stretch is not None:
            setup.rejoin.CopyFrom(stretch.asked)
        if grid is not None:
            setup.path_grid.CopyFrom(analysis_pb2.PathGrid(beats_s=grid.beats_s, key=grid.key))
            if grid.tempo_bpm is not None:
                setup.path_grid.tempo_bpm = grid.tempo_bpm

        async def requests():
            yield analysis_pb2.AnalyzeRequest(setup=setup)
            async for data in clip:
                yield analysis_pb2.AnalyzeRequest(chunk=common_pb2.AudioChunk(data=data))
            for chunk in split(context or b""):
                yield analysis_pb2.AnalyzeRequest(context_chunk=common_pb2.AudioChunk(data=chunk))
            for chunk in split(stretch.part if stretch is not None else b""):
                yield analysis_pb2.AnalyzeRequest(part_chunk=common_pb2.AudioChunk(data=chunk))

        return self.worker.stub.Analyze(
            requests(), timeout=self.settings.analysis_deadline_s, metadata=request_id.metadata()
        )
