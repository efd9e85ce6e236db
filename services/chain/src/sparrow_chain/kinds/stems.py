"""Stems: a node's audio to the stems worker, the model's stems to its stem set
(kept by the audio's content, store/stems.py)."""

from __future__ import annotations

from collections.abc import AsyncIterable

from sparrow.v1 import common_pb2, stems_pb2

from sparrow_chain import store
from sparrow_chain.config import Settings
from sparrow_chain.domain import check_stem_name
from sparrow_chain.job import Dispatch
from sparrow_chain.kinds.paths import audio_of
from sparrow_chain.store.stems import STEMS
from sparrow_chain.workers import Chunk, Done, Worker, progress_of
from sparrow_common import request_id
from sparrow_common.channels import Requests, its_error_raised
from sparrow_common.ids import new_id


def read(reply) -> object:
    """One SeparateResponse: progress, a stem's chunk (by its name), or done
    (every stem's name); a wait in line is not passed on."""
    part = reply.WhichOneof("part")
    if part == "progress":
        return progress_of(reply.progress)
    if part == "chunk":
        return Chunk(reply.chunk.stem, reply.chunk.data)
    if part == "done":
        return Done(list(reply.done.stems))
    return None


class Stems:
    """The stems kind: a node's audio to the stems worker, its stems to the set."""

    name = STEMS
    what = "stem separation"

    def __init__(self, worker: Worker, blobs, settings: Settings, on_change):
        self.worker = worker
        self.blobs = blobs
        self.settings = settings
        self.on_change = on_change

    def changed(self, job: store.ClaimedStems) -> None:
        # Stems events land in every chain holding the audio: the one that asked
        # wakes at once, the others at their watchers' next poll.
        if job.chain_id:
            self.on_change(job.chain_id)

    async def run(self, job: store.ClaimedStems, dispatch: Dispatch) -> None:
        await dispatch.wait_for_worker(job, self.worker)
        audio = Requests(audio_of(self.blobs, job.source_key, "the part to split"))
        call = self.separate(audio, job.model)
        with dispatch.receiving() as stems:
            with its_error_raised(audio):  # a source gone mid-call fails the job in words
                done = await dispatch.follow(job, call, read, stems)
            if done is None or not done.keys or set(stems.keys()) != set(done.keys):
                raise RuntimeError("the stems worker ended the call without every stem it named")
            for name in done.keys:
                check_stem_name(name, "each stem the worker sent")
            token = new_id()[:8]
            files = {
                name: (stems.path(name), f"stems/{job.content_hash}/{job.model}/{name}.{token}.wav")
                for name in done.keys
            }
            await dispatch.finish(job, files)

    def separate(self, audio: AsyncIterable[bytes], model: str):
        """The stems worker's call: the stems by `model` of the audio file whose
        bytes `audio` yields, as WAVs."""

        async def requests():
            yield stems_pb2.SeparateRequest(setup=stems_pb2.SeparateSetup(output_format="wav", model=model))
            async for data in audio:
                yield stems_pb2.SeparateRequest(chunk=common_pb2.AudioChunk(data=data))

        return self.worker.stub.Separate(
            requests(), timeout=self.settings.stems_deadline_s, metadata=request_id.metadata()
        )

