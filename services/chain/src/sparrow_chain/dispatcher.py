"""The dispatcher: turns queued generation jobs into takes.

It claims a job with a lease, streams the context (and the takes' melody, when
they were asked with one) to GenerationService.Generate with a deadline, writes
progress and the time left (throttled) and status to the nodes and the event
log, stores the takes' audio and sets them ready, or error with a readable
message. It renews the lease while it works and cancels the call the moment the
job is gone (its takes discarded), which stops the model. A worker that is full
(RESOURCE_EXHAUSTED) makes it back off and retry; a worker that died or can't be
reached is retried a few times before the takes end in error. A job whose
dispatcher died is claimed again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
from sparrow.v1 import common_pb2, generation_pb2, generation_pb2_grpc, stems_pb2, stems_pb2_grpc

from sparrow_chain.audio_work import AudioWork
from sparrow_chain.blobs import BlobStore
from sparrow_chain.config import Settings
from sparrow_chain.domain import STEM_NAMES, Melody, StoredAudio
from sparrow_chain.metrics import JOBS_ENDED
from sparrow_chain.store import ClaimedJob, ClaimedStems, JobQueue, StemStore
from sparrow_chain.store.jobs import GENERATE
from sparrow_chain.store.stems import STEMS
from sparrow_common import request_id
from sparrow_common.audio import chunks_in_thread, decode, encode_wav, probe, split
from sparrow_common.channels import open_channel
from sparrow_common.convert import params_to_pb
from sparrow_common.errors import MODEL_LOADING
from sparrow_common.ids import new_id

log = logging.getLogger(__name__)

# These mean the request can't succeed however often it is tried.
_FINAL = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED}


class Received:
    """What a worker streams back, one file per take or stem, written to the
    blob store's incoming folder as the chunks arrive (never held whole in
    memory); files not moved into the store by the end are deleted."""

    def __init__(self, blobs):
        self.blobs = blobs
        self._files: dict = {}

    def write(self, key, data: bytes) -> None:
        if key not in self._files:
            self._files[key] = open(self.blobs.incoming(), "wb")  # noqa: SIM115 - closed in path() or __exit__
        self._files[key].write(data)

    def keys(self):
        return self._files.keys()

    def path(self, key) -> Path:
        """The finished file of `key` (closed for writing)."""
        self._files[key].close()
        return Path(self._files[key].name)

    def __enter__(self) -> Received:
        return self

    def __exit__(self, *exc) -> None:
        for file in self._files.values():
            file.close()
            Path(file.name).unlink(missing_ok=True)


class JobGone(Exception):
    """Every take of the job was discarded, or another dispatcher took it over."""


class Dispatcher:
    def __init__(
        self,
        jobs: JobQueue,
        stems: StemStore,
        blobs: BlobStore,
        settings: Settings,
        on_change: Callable[[str], None],
        audio: AudioWork | None = None,
    ):
        self.audio = audio or AudioWork(settings.audio_threads)
        self.jobs = jobs
        self.stems = stems
        self.blobs = blobs
        self.settings = settings
        self.on_change = on_change
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"
        self.channel = open_channel(settings.generation_addr)
        self.stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        self.stems_channel = open_channel(settings.stems_addr)
        self.stems_stub = stems_pb2_grpc.StemsServiceStub(self.stems_channel)
        self.free = asyncio.Semaphore(settings.dispatch_slots)
        self.active: dict[str, asyncio.Task] = {}
        self._pulse = asyncio.Event()
        self._queued = asyncio.Event()

    def poke(self) -> None:
        """Something changed here (a job queued, takes discarded): look for jobs,
        and check the running ones, now rather than at the next poll."""
        self._pulse.set()
        self._pulse = asyncio.Event()
        self.job_queued()

    def job_queued(self) -> None:
        """A job was queued (perhaps by another replica): try to claim it now.
        Running jobs' leases are left alone."""
        self._queued.set()
        self._queued = asyncio.Event()

    async def _wait_for_pulse(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._pulse.wait(), timeout)
        except TimeoutError:
            pass

    # -- the claim loop -------------------------------------------------------

    async def run(self) -> None:
        """Claim and start jobs until cancelled."""
        while True:
            await self.free.acquire()
            queued = self._queued
            try:
                job = await asyncio.to_thread(self.jobs.claim, self.owner, self.settings.lease_s)
                if job is None:
                    job = await asyncio.to_thread(self.stems.claim, self.owner, self.settings.lease_s)
            except Exception:  # noqa: BLE001 - the database may be away for a moment
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self.free.release()
                try:
                    await asyncio.wait_for(queued.wait(), self.settings.job_poll_s)
                except TimeoutError:
                    pass
                continue
            self._changed(job)
            task = asyncio.create_task(self._work(job), name=f"job {job.id}")
            self.active[job.id] = task
            task.add_done_callback(lambda _, job_id=job.id: self._done(job_id))

    def _done(self, job_id: str) -> None:
        self.active.pop(job_id, None)
        self.free.release()

    async def stop(self) -> None:
        """Stop claiming and hand running jobs back to the queue for another replica."""
        for task in list(self.active.values()):
            task.cancel()
        await asyncio.gather(*self.active.values(), return_exceptions=True)
        await self.channel.close()
        await self.stems_channel.close()

    # -- one job --------------------------------------------------------------

    def _changed(self, job: ClaimedJob | ClaimedStems) -> None:
        # Stems events land in every chain holding the audio; their watchers poll.
        if isinstance(job, ClaimedJob):
            self.on_change(job.chain_id)

    def _retry(self, job: ClaimedJob | ClaimedStems, delay_s: float, count_attempt: bool = True) -> None:
        if isinstance(job, ClaimedJob):
            self.jobs.retry(job.id, self.owner, delay_s, count_attempt)
        else:
            self.stems.retry(job, self.owner, delay_s, count_attempt)

    def _fail(self, job: ClaimedJob | ClaimedStems, message: str) -> None:
        if isinstance(job, ClaimedJob):
            self.jobs.fail(job.id, self.owner, message)
        else:
            self.stems.fail(job, self.owner, message)

    async def _work(self, job: ClaimedJob | ClaimedStems) -> None:
        # This task's logs, and the worker's, carry the id of the request that asked.
        request_id.use(job.request_id or request_id.new())
        kind = GENERATE if isinstance(job, ClaimedJob) else STEMS
        what = "generation" if kind == GENERATE else "stem separation"
        outcome = "done"
        try:
            if isinstance(job, ClaimedJob):
                await self._generate(job)
            else:
                await self._separate(job)
        except JobGone:
            outcome = "gone"
            log.info("job %s stopped: it is gone", job.id)
        except asyncio.CancelledError:
            outcome = "handed_back"
            await asyncio.shield(asyncio.to_thread(self._retry, job, 0.0, False))
            raise
        except grpc.aio.AioRpcError as error:
            outcome = await self._after_failed_call(job, error, what)
        except Exception as error:  # noqa: BLE001 - becomes the node's error
            outcome = "error"
            log.warning("job %s failed: %s", job.id, error, exc_info=not isinstance(error, RuntimeError))
            await asyncio.to_thread(self._fail, job, f"{what} failed: {error}")
        finally:
            JOBS_ENDED.labels(kind, outcome).inc()
            self._changed(job)

    async def _after_failed_call(self, job: ClaimedJob | ClaimedStems, error: grpc.aio.AioRpcError, what: str) -> str:
        """Retry, wait or fail the job after its call failed; says which."""
        code, details = error.code(), error.details() or error.code().name
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED or MODEL_LOADING in details:
            log.info("%s worker busy or loading (%s); job %s waits", what, details, job.id)
            await asyncio.to_thread(self._retry, job, self.settings.retry_base_s, False)
            return "waits"
        if code in _FINAL:
            await asyncio.to_thread(self._fail, job, f"{what} failed: {details}")
            return "error"
        if job.attempts < self.settings.max_attempts:
            delay = self.settings.retry_base_s * 2 ** (job.attempts - 1)
            log.warning("job %s attempt %d failed (%s: %s); retrying in %.1fs", job.id, job.attempts, code.name, details, delay)
            await asyncio.to_thread(self._retry, job, delay)
            return "retried"
        await asyncio.to_thread(self._fail, job, f"{what} failed after {job.attempts} attempts: {details}")
        return "error"

    async def _generate(self, job: ClaimedJob) -> None:
        params = job.nodes[0].params
        context = await self.audio.run(self._context, job.parent_id, params.prompt_duration_s)
        melody = None
        if job.nodes[0].melody is not None:
            # The melody's time 0 is where the prompt starts: it covers prompt and take.
            seconds = params.prompt_duration_s + params.duration_s
            melody = await self.audio.run(self._melody, job.nodes[0].melody, seconds)
        await self._wait_for_worker(job, self.channel, self.settings.generation_addr, "generation")
        call = self.stub.Generate(
            self._requests(job, context, melody),
            timeout=self.settings.generate_deadline_s,
            metadata=request_id.metadata(),
        )

        async def record(fraction: float, eta_s: float | None) -> None:
            await asyncio.to_thread(self.jobs.progress, job.id, self.owner, fraction, eta_s)
            self.on_change(job.chain_id)

        with Received(self.blobs) as takes:
            done = await self._follow(job, call, record, "take_chunk", "take", takes)
            if done is None or len(done.takes) != len(job.nodes):
                raise RuntimeError("the worker ended the call without every take")
            stored: dict[str, StoredAudio] = {}
            try:
                for result in done.takes:
                    node = job.nodes[result.take]
                    # A fresh key per attempt: a late duplicate never overwrites a take.
                    key = f"{job.chain_id}/{node.id}.{new_id()[:8]}.wav"
                    stored[node.id] = await self.audio.run(self._store_audio, key, takes.path(result.take))
                orphans = await asyncio.to_thread(self.jobs.finish, job.id, self.owner, stored)
            except BaseException:
                for audio in stored.values():
                    self.blobs.delete(audio.key)
                raise
        for node_id in orphans:
            self.blobs.delete(stored[node_id].key)
        log.info("job %s done: %d take(s) for chain %s", job.id, len(stored), job.chain_id)

    async def _follow(self, job, call, record, chunk_part: str, key: str, received: Received):
        """Read a worker's stream while keeping the job's lease: progress goes to
        `record(fraction, eta_s)` at most every progress_interval_s, chunks of
        `chunk_part` are written to `received` by their `key` field. Returns
        the stream's `done` part (None if it never came)."""
        gone = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(job, call, gone))
        done = None
        written_at = 0.0
        try:
            async for reply in call:
                kind = reply.WhichOneof("part")
                if kind == "progress":
                    step, total = reply.progress.step, max(reply.progress.total, 1)
                    if time.monotonic() - written_at >= self.settings.progress_interval_s or step >= total:
                        written_at = time.monotonic()
                        await record(min(step / total, 0.99), reply.progress.eta_s or None)
                elif kind == chunk_part:
                    chunk = getattr(reply, chunk_part)
                    received.write(getattr(chunk, key), chunk.data)
                elif kind == "done":
                    done = reply.done
        except asyncio.CancelledError:
            if gone.is_set():
                raise JobGone() from None
            raise
        finally:
            keeper.cancel()
        return done

    async def _wait_for_worker(self, job, channel: grpc.aio.Channel, address: str, service: str) -> None:
        """Wait (renewing the lease) until a worker answers, or give up with a reason."""
        ready = asyncio.ensure_future(channel.channel_ready())
        deadline = time.monotonic() + self.settings.worker_wait_s
        try:
            while not ready.done():
                await asyncio.wait({ready}, timeout=min(self.settings.lease_s / 3, max(deadline - time.monotonic(), 0)))
                if ready.done():
                    break
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"the {service} service at {address} can't be reached "
                        f"(waited {self.settings.worker_wait_s:.0f}s)"
                    )
                if not await asyncio.to_thread(self.jobs.renew, job.id, self.owner, self.settings.lease_s):
                    raise JobGone()
        finally:
            ready.cancel()

    async def _keep_lease(self, job: ClaimedJob, call, gone: asyncio.Event) -> None:
        """Renew the lease until the call ends; cancel the call once the job is gone."""
        while True:
            await self._wait_for_pulse(self.settings.lease_s / 3)
            try:
                alive = await asyncio.to_thread(self.jobs.renew, job.id, self.owner, self.settings.lease_s)
            except Exception:  # noqa: BLE001 - try again at the next beat
                log.exception("renewing job %s failed", job.id)
                continue
            if not alive:
                gone.set()
                call.cancel()
                return

    async def _separate(self, job: ClaimedStems) -> None:
        await self._wait_for_worker(job, self.stems_channel, self.settings.stems_addr, "stems")
        call = self.stems_stub.Separate(
            self._stems_requests(job), timeout=self.settings.stems_deadline_s, metadata=request_id.metadata()
        )

        async def record(fraction: float, eta_s: float | None) -> None:
            await asyncio.to_thread(self.stems.progress, job, fraction)

        with Received(self.blobs) as stems:
            done = await self._follow(job, call, record, "stem_chunk", "stem", stems)
            if done is None or set(stems.keys()) != set(STEM_NAMES):
                raise RuntimeError("the stems worker ended the call without all four stems")
            token = new_id()[:8]
            files: dict[str, StoredAudio] = {}
            try:
                for name in STEM_NAMES:
                    key = f"stems/{job.content_hash}/{name}.{token}.wav"
                    files[name] = await self.audio.run(self._store_audio, key, stems.path(name))
                kept = await asyncio.to_thread(self.stems.finish, job, self.owner, files)
            except BaseException:
                kept = False
                raise
            finally:
                if not kept:
                    for audio in files.values():
                        self.blobs.delete(audio.key)
        log.info("stems job %s done", job.id)

    async def _stems_requests(self, job: ClaimedStems):
        yield stems_pb2.SeparateRequest(setup=stems_pb2.SeparateSetup(output_format="wav"))
        async for data in chunks_in_thread(self.blobs.read(job.source_key)):
            yield stems_pb2.SeparateRequest(chunk=common_pb2.AudioChunk(data=data))

    async def _requests(self, job: ClaimedJob, context: bytes, melody: bytes | None):
        params = job.nodes[0].params
        yield generation_pb2.GenerateRequest(
            setup=generation_pb2.GenerateSetup(
                params=params_to_pb(params),
                seeds=[n.params.seed for n in job.nodes],
                output_format="wav",
            )
        )
        for chunk in split(context):
            yield generation_pb2.GenerateRequest(context_chunk=common_pb2.AudioChunk(data=chunk))
        for chunk in split(melody or b""):
            yield generation_pb2.GenerateRequest(melody_chunk=common_pb2.AudioChunk(data=chunk))

    # -- audio ------------------------------------------------------------------

    def _context(self, parent_id: str, seconds: float) -> bytes:
        """The last `seconds` of the path that ends at the parent, as one WAV at
        the parent's sample rate."""
        path = self.jobs.context_path(parent_id, seconds)
        if not path:
            raise RuntimeError("the parent has no audio")
        rate = path[-1].audio.sample_rate
        channels = min(path[-1].audio.channels, 2)
        # No part gives more than `seconds`: a long root is decoded from near its end.
        parts = [decode(b"".join(self.blobs.read(n.audio.key)), rate, channels, last_s=seconds) for n in path]
        audio = np.concatenate(parts, axis=-1)
        return encode_wav(audio[:, max(audio.shape[-1] - int(seconds * rate), 0) :], rate)

    def _melody(self, melody: Melody, seconds: float) -> bytes:
        """The first `seconds` of the melody's audio (its node's mix or stem), as
        one WAV at its own sample rate."""
        audio = self.jobs.melody_audio(melody)
        if audio is None:
            what = f"the {melody.stem} stem of node {melody.node_id}" if melody.stem else f"node {melody.node_id}"
            raise RuntimeError(f"the melody is gone ({what} was discarded or deleted since the takes were asked)")
        samples = decode(b"".join(self.blobs.read(audio.key)), audio.sample_rate, min(audio.channels, 2))
        return encode_wav(samples[:, : int(seconds * audio.sample_rate)], audio.sample_rate)

    def _store_audio(self, key: str, incoming: Path) -> StoredAudio:
        """A file the worker sent (in the incoming folder), checked and moved to `key`."""
        info = probe(incoming)
        self.blobs.put(key, incoming)
        return StoredAudio(
            key, info.format, info.content_type, info.sample_rate, info.channels, info.duration_s, info.size_bytes
        )
