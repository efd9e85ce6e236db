"""Takes: a batch of sibling takes, made by the generation worker from the
path's last seconds (the mix or one stem of it), and a melody when asked with one.

Takes aligned to bars wait for their parent's analysis, and takes prompted by a
stem for the stems of every part their prompt reaches into (asked for here,
by the default stems model): the queue holds them back until those jobs are done
(store/queue.py). Their recipe is resolved once, on the first claim with
nothing left to wait for, and written to the takes with a note.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sparrow.v1 import common_pb2, generation_pb2

from sparrow_chain import splits, store
from sparrow_chain.audio_work import AudioWork
from sparrow_chain.bars import to_bars
from sparrow_chain.config import Settings
from sparrow_chain.domain import MIX, Knobs, Melody, Recipe, StemsStatus
from sparrow_chain.job import Dispatch, Waits
from sparrow_chain.kinds.paths import heard_soon, path_tail, tail
from sparrow_chain.store.takes import TAKES
from sparrow_chain.workers import Chunk, Done, Worker, progress_of
from sparrow_common import request_id
from sparrow_common.audio import decode, encode_wav, split, wav_frames
from sparrow_common.convert import knobs_to_pb
from sparrow_common.ids import new_id


def read(reply) -> object:
    """One GenerateResponse: progress, a take's chunk (by its index), or done
    (every take's index); a wait in line is not passed on."""
    part = reply.WhichOneof("part")
    if part == "progress":
        return progress_of(reply.progress)
    if part == "chunk":
        return Chunk(reply.chunk.take, reply.chunk.data)
    if part == "done":
        return Done([take.take for take in reply.done.takes])
    return None


@dataclass(frozen=True)
class Heard:
    """What the generation worker hears for one job: the prompt and the melody,
    as WAVs; no prompt (None) for takes of a chain's beginning, from the words alone."""

    context: bytes | None
    melody: bytes | None


class Takes:
    """The takes kind: the context (and melody) to the generation worker, its takes to the nodes."""

    name = TAKES
    what = "generation"

    def __init__(
        self, worker: Worker, takes: store.Takes, stems: store.StemStore, blobs, audio: AudioWork,
        settings: Settings, on_change,
    ):
        self.worker = worker
        self.takes = takes
        self.stems = stems
        self.blobs = blobs
        self.audio = audio
        self.settings = settings
        self.on_change = on_change

    def changed(self, job: store.ClaimedJob) -> None:
        self.on_change(job.chain_id)

    async def run(self, job: store.ClaimedJob, dispatch: Dispatch) -> None:
        recipe = job.nodes[0].recipe
        if recipe.align == "bars" and not job.resolved:
            recipe = await self._to_bars(job, recipe)
        heard = await self._heard(job, recipe)
        await dispatch.wait_for_worker(job, self.worker)
        call = self.generate(recipe.knobs, [n.recipe.seed for n in job.nodes], heard)
        with dispatch.receiving() as takes:
            done = await dispatch.follow(job, call, read, takes)
            if done is None or len(done.keys) != len(job.nodes):
                raise RuntimeError("the worker ended the call without every take")
            # A fresh key per attempt: a late duplicate never overwrites a take.
            files = {
                job.nodes[take].id: (takes.path(take), f"{job.chain_id}/{job.nodes[take].id}.{new_id()[:8]}.wav")
                for take in done.keys
            }
            await dispatch.finish(job, files)

    def generate(self, knobs: Knobs, seeds: list[int], heard: Heard):
        """The generation worker's call: takes continuing the context, one per
        seed, following the melody when there is one. The worker hears the
        knobs alone: how the chain placed the prompt and chose what of the path
        is heard is done by then, in the context sent."""

        async def requests():
            yield generation_pb2.GenerateRequest(
                setup=generation_pb2.GenerateSetup(
                    knobs=knobs_to_pb(knobs), seeds=seeds, output_format="wav", from_words=heard.context is None
                )
            )
            for chunk in split(heard.context or b""):
                yield generation_pb2.GenerateRequest(context_chunk=common_pb2.AudioChunk(data=chunk))
            for chunk in split(heard.melody or b""):
                yield generation_pb2.GenerateRequest(melody_chunk=common_pb2.AudioChunk(data=chunk))

        return self.worker.stub.Generate(
            requests(), timeout=self.settings.generate_deadline_s, metadata=request_id.metadata()
        )

    async def _heard(self, job: store.ClaimedJob, recipe: Recipe) -> Heard:
        """The prompt (the mix or one stem of the path) and the melody."""
        if recipe.prompt_source == MIX:
            context = await self.audio.run(
                path_tail, self.takes, self.blobs, job.parent_id, recipe.prompt_duration_s, job.nodes[0].from_s
            )
        else:
            context = await self._stem_tail(job, recipe)
        melody = None
        if wav_frames(context) == 0:  # a chain's beginning: nothing to hear yet
            context = None
        if job.nodes[0].melody is not None:
            # The melody's time 0 is where the prompt starts: it covers prompt and take.
            seconds = recipe.prompt_duration_s + recipe.duration_s
            melody = await self.audio.run(self._melody, job.nodes[0].melody, seconds)
        return Heard(context, melody)

    async def _stem_tail(self, job: store.ClaimedJob, recipe: Recipe) -> bytes:
        """The last seconds of one stem of the path: the stems of every part the
        prompt reaches into (by the default stems model), asked for when missing
        while the takes wait."""
        stem, seconds = recipe.prompt_source, recipe.prompt_duration_s
        path = await asyncio.to_thread(self.takes.context_path, job.parent_id, seconds, job.nodes[0].from_s)
        if not path:
            raise RuntimeError("the parent has no audio")
        model = self.settings.stems_model_ids[0]
        sets = [await asyncio.to_thread(splits.ask, self.stems, self.blobs, heard.node, model) for heard in path]
        failed = next((s for s in sets if s.status is StemsStatus.ERROR), None)
        if failed is not None:
            raise RuntimeError(f"the {stem} stem of the path could not be made: {failed.error_message}")
        pending = [s for s in sets if s.status is not StemsStatus.READY]
        if pending:
            jobs = [await asyncio.to_thread(self.stems.job_of, s.content_hash, s.model) for s in pending]
            raise Waits([job for job in jobs if job], f"the {stem} stem of the path could not be made")
        missing = next((s for s in sets if stem not in s.files), None)
        if missing is not None:
            raise RuntimeError(f"the {model} stems have no {stem}: they are {', '.join(missing.files)}")
        parts = [(s.files[stem], heard.end_s, heard.start_s) for s, heard in zip(sets, path, strict=True)]
        return await self.audio.run(tail, self.blobs, parts, seconds)

    async def _to_bars(self, job: store.ClaimedJob, recipe: Recipe) -> Recipe:
        """The job's prompt and length set to bars from the parent's grid (what
        was heard, waiting for it while it is on its way, with the musician's
        corrections), written to its takes with a note."""
        parent = await asyncio.to_thread(self.takes.node, job.parent_id)
        if parent is None or parent.audio is None:
            raise RuntimeError("the parent has no audio")
        if heard_soon(parent):
            # Without it (it failed) they keep to seconds, and say so.
            analysing = await asyncio.to_thread(self.takes.analysis_job, parent.id)
            raise Waits([analysing] if analysing else [], None)
        # The path ends where the takes continue from: the parent's end, or their from_s.
        end_s = job.nodes[0].from_s if job.nodes[0].from_s is not None else parent.audio.duration_s
        aligned = to_bars(recipe, parent.grid, end_s)
        await asyncio.to_thread(self.takes.resolve, job.id, aligned.recipe, aligned.note)
        return aligned.recipe

    def _melody(self, melody: Melody, seconds: float) -> bytes:
        """The first `seconds` of the melody's audio (its node's mix or stem), as
        one WAV at its own sample rate."""
        audio = self.takes.melody_audio(melody)
        if audio is None:
            what = f"the {melody.stem} stem of node {melody.node_id}" if melody.stem else f"node {melody.node_id}"
            raise RuntimeError(f"the melody is gone ({what} was discarded or deleted since the takes were asked)")
        samples = decode(b"".join(self.blobs.read(audio.key)), audio.sample_rate, min(audio.channels, 2))
        return encode_wav(samples[:, : int(seconds * audio.sample_rate)], audio.sample_rate)
