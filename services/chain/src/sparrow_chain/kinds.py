"""One small adapter per kind of job, behind the dispatcher's one loop: what a
kind sends its worker, and what it keeps of the answer. The lease, progress,
retries and failures are the dispatcher's, alike for every kind."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sparrow_chain.bars import to_bars
from sparrow_chain import splits
from sparrow_chain.domain import MIX, AnalysisStatus, Melody, Node, StemsStatus, StoredAudio, check_stem_name
from sparrow_chain.grid import path_grid
from sparrow_chain.store import ClaimedJob, ClaimedStems, StemStore, Takes
from sparrow_chain.store.analyses import ClaimedAnalysis
from sparrow_chain.store.base import ANALYZE
from sparrow_chain.store.stems import STEMS
from sparrow_chain.store.takes import GENERATE
from sparrow_chain.workers import AnalysisWorker, GenerationWorker, StemsWorker, Worker
from sparrow_common.audio import chunks_in_thread, decode, encode_wav
from sparrow_common.ids import new_id

if TYPE_CHECKING:
    from sparrow_chain.dispatcher import Dispatcher


class Waits(Exception):
    """The job waits for something on its way: it goes back to the queue, its
    attempts untouched."""


class AnalysisPending(Waits):
    """Takes to align to bars, and a take's seam, wait for their parent's
    analysis to land (its grid is what they measure against)."""


def heard_soon(node: Node) -> bool:
    """Whether the node's first analysis is on its way (nothing heard in it yet)."""
    analysis = node.analysis
    return (
        analysis is not None and analysis.clip is None
        and analysis.status in (AnalysisStatus.PENDING, AnalysisStatus.ANALYZING)
    )


class StemsPending(Waits):
    """Takes prompted by one stem wait for the stems of the path they hear."""


class Kind(Protocol):
    kind: str
    # In words, for the messages a musician reads: "generation failed: ...".
    what: str
    worker: Worker

    def changed(self, job) -> None:
        """Tell the job's watchers something changed."""

    async def run(self, job, dispatcher: Dispatcher) -> None:
        """Do the job through `dispatcher` (its worker call, lease and store);
        raises what the call raised."""


def path_tail(takes: Takes, blobs, parent_id: str, seconds: float, from_s: float | None = None) -> bytes:
    """The last `seconds` of the path that ends at `parent_id` (at `from_s`
    into it, or its end), as one WAV at the parent's sample rate (reaching back
    into ancestors when it is shorter)."""
    path = takes.context_path(parent_id, seconds, from_s)
    if not path:
        raise RuntimeError("the parent has no audio")
    return tail(blobs, [(heard.node.audio, heard.end_s) for heard in path], seconds)


def tail(blobs, parts: list[tuple[StoredAudio, float | None]], seconds: float) -> bytes:
    """The last `seconds` of `parts` joined, oldest first, each heard up to its
    end (None: all of it), as one WAV at the last part's sample rate (and its
    channels, two at most)."""
    rate = parts[-1][0].sample_rate
    channels = min(parts[-1][0].channels, 2)
    decoded = []
    for audio, end_s in parts:
        # No part gives more than `seconds` before its end: a long root is
        # decoded from near there.
        cut_s = max(audio.duration_s - end_s, 0.0) if end_s is not None else 0.0
        samples = decode(b"".join(blobs.read(audio.key)), rate, channels, last_s=seconds + cut_s)
        decoded.append(samples[:, : max(samples.shape[-1] - int(round(cut_s * rate)), 0)])
    audio = np.concatenate(decoded, axis=-1)
    return encode_wav(audio[:, max(audio.shape[-1] - int(seconds * rate), 0) :], rate)


class TakesWork:
    """Takes: the context (and melody) to the generation worker, its takes to the nodes."""

    kind = GENERATE
    what = "generation"

    def __init__(self, worker: GenerationWorker, takes: Takes, stems: StemStore, on_change):
        self.worker = worker
        self.takes = takes
        self.stems = stems
        self.on_change = on_change

    def changed(self, job: ClaimedJob) -> None:
        self.on_change(job.chain_id)

    async def run(self, job: ClaimedJob, dispatcher: Dispatcher) -> None:
        params = job.nodes[0].params
        if params.align == "bars":
            params = await self._to_bars(job, params)
        if params.prompt_source == MIX:
            context = await dispatcher.audio.run(
                path_tail, self.takes, dispatcher.blobs, job.parent_id, params.prompt_duration_s, job.nodes[0].from_s
            )
        else:
            context = await self._stem_tail(job, params, dispatcher)
        melody = None
        if job.nodes[0].melody is not None:
            # The melody's time 0 is where the prompt starts: it covers prompt and take.
            seconds = params.prompt_duration_s + params.duration_s
            melody = await dispatcher.audio.run(self._melody, dispatcher.blobs, job.nodes[0].melody, seconds)
        await dispatcher.wait_for_worker(job, self.worker)
        seeds = [n.params.seed for n in job.nodes]
        call = self.worker.generate(params, seeds, context, melody, dispatcher.settings.generate_deadline_s)
        with dispatcher.receiving() as takes:
            done = await dispatcher.follow(job, self, call, takes)
            if done is None or len(done.keys) != len(job.nodes):
                raise RuntimeError("the worker ended the call without every take")
            # A fresh key per attempt: a late duplicate never overwrites a take.
            files = {
                job.nodes[take].id: (takes.path(take), f"{job.chain_id}/{job.nodes[take].id}.{new_id()[:8]}.wav")
                for take in done.keys
            }
            await dispatcher.finish(job, files)

    async def _stem_tail(self, job: ClaimedJob, params, dispatcher: Dispatcher) -> bytes:
        """The last seconds of one stem of the path: the stems of every part the
        prompt reaches into (by the default stems model), asked for when missing
        while the takes wait."""
        stem, seconds = params.prompt_source, params.prompt_duration_s
        path = await asyncio.to_thread(self.takes.context_path, job.parent_id, seconds, job.nodes[0].from_s)
        if not path:
            raise RuntimeError("the parent has no audio")
        model = dispatcher.settings.stems_model_ids[0]
        sets = [
            await asyncio.to_thread(splits.ask, self.stems, dispatcher.blobs, heard.node, model) for heard in path
        ]
        failed = next((s for s in sets if s.status is StemsStatus.ERROR), None)
        if failed is not None:
            raise RuntimeError(f"the {stem} stem of the path could not be made: {failed.error_message}")
        if any(s.status is not StemsStatus.READY for s in sets):
            dispatcher.job_queued()  # the stems jobs just asked for
            raise StemsPending()
        missing = next((s for s in sets if stem not in s.files), None)
        if missing is not None:
            raise RuntimeError(f"the {model} stems have no {stem}: they are {', '.join(missing.files)}")
        parts = [(s.files[stem], heard.end_s) for s, heard in zip(sets, path, strict=True)]
        return await dispatcher.audio.run(tail, dispatcher.blobs, parts, seconds)

    async def _to_bars(self, job: ClaimedJob, params):
        """The job's prompt and length set to bars from the parent's grid (what
        was heard, waiting for it while it is on its way, with the musician's
        corrections), written to its takes with a note."""
        parent = await asyncio.to_thread(self.takes.node, job.parent_id)
        if parent is None or parent.audio is None:
            raise RuntimeError("the parent has no audio")
        if heard_soon(parent):
            raise AnalysisPending()
        # The path ends where the takes continue from: the parent's end, or their from_s.
        end_s = job.nodes[0].from_s if job.nodes[0].from_s is not None else parent.audio.duration_s
        aligned = to_bars(params, parent.grid, end_s)
        await asyncio.to_thread(self.takes.align, job.id, aligned.params, aligned.note)
        return aligned.params

    def _melody(self, blobs, melody: Melody, seconds: float) -> bytes:
        """The first `seconds` of the melody's audio (its node's mix or stem), as
        one WAV at its own sample rate."""
        audio = self.takes.melody_audio(melody)
        if audio is None:
            what = f"the {melody.stem} stem of node {melody.node_id}" if melody.stem else f"node {melody.node_id}"
            raise RuntimeError(f"the melody is gone ({what} was discarded or deleted since the takes were asked)")
        samples = decode(b"".join(blobs.read(audio.key)), audio.sample_rate, min(audio.channels, 2))
        return encode_wav(samples[:, : int(seconds * audio.sample_rate)], audio.sample_rate)


class StemsWork:
    """Stems: a node's audio to the stems worker, the model's stems to its stem set."""

    kind = STEMS
    what = "stem separation"

    def __init__(self, worker: StemsWorker, on_change):
        self.worker = worker
        self.on_change = on_change

    def changed(self, job: ClaimedStems) -> None:
        # Stems events land in every chain holding the audio: the one that asked
        # hears at once, the others at their watchers' next poll.
        if job.chain_id:
            self.on_change(job.chain_id)

    async def run(self, job: ClaimedStems, dispatcher: Dispatcher) -> None:
        await dispatcher.wait_for_worker(job, self.worker)
        call = self.worker.separate(
            chunks_in_thread(dispatcher.blobs.read(job.source_key)), job.model, dispatcher.settings.stems_deadline_s
        )
        with dispatcher.receiving() as stems:
            done = await dispatcher.follow(job, self, call, stems)
            if done is None or not done.keys or set(stems.keys()) != set(done.keys):
                raise RuntimeError("the stems worker ended the call without every stem it named")
            for name in done.keys:
                check_stem_name(name, "each stem the worker sent")
            token = new_id()[:8]
            files = {
                name: (stems.path(name), f"stems/{job.content_hash}/{job.model}/{name}.{token}.wav")
                for name in done.keys
            }
            await dispatcher.finish(job, files)


# A take's seam is heard against this much of the path before it.
SEAM_CONTEXT_S = 12.0


class AnalysisWork:
    """Analyses: a node's audio (and, for a take, the path before it) to the
    analysis worker, what it heard onto the node."""

    kind = ANALYZE
    what = "analysis"

    def __init__(self, worker: AnalysisWorker, takes: Takes, on_change):
        self.worker = worker
        self.takes = takes
        self.on_change = on_change

    def changed(self, job: ClaimedAnalysis) -> None:
        self.on_change(job.chain_id)

    async def run(self, job: ClaimedAnalysis, dispatcher: Dispatcher) -> None:
        context, grid = None, None
        if job.parent_id is not None:
            path = await asyncio.to_thread(self.takes.context_path, job.parent_id, SEAM_CONTEXT_S, job.from_s)
            if not path:
                raise RuntimeError("the parent has no audio")
            if heard_soon(path[-1].node):
                raise AnalysisPending()
            parts = [(heard.node.audio, heard.end_s) for heard in path]
            context = await dispatcher.audio.run(tail, dispatcher.blobs, parts, SEAM_CONTEXT_S)
            # The seam is measured against the path's grid as the chain uses it (corrections included).
            grid = path_grid(
                [(heard.node.grid, heard.end_s if heard.end_s is not None else heard.node.audio.duration_s) for heard in path],
                SEAM_CONTEXT_S,
            )
        await dispatcher.wait_for_worker(job, self.worker)
        call = self.worker.analyze(
            chunks_in_thread(dispatcher.blobs.read(job.audio_key)), context, dispatcher.settings.analysis_deadline_s,
            grid,
        )
        done = await dispatcher.follow(job, self, call)
        if done is None:
            raise RuntimeError("the analysis worker ended the call without an answer")
        await dispatcher.end(job, {"analysis": done.result})
