"""The dispatcher: one loop that turns queued jobs of every kind into work.

It claims a job with a lease (store/queue.py) and hands it to its kind (job.py's
`Kind`, one home each under kinds/: takes, stems, analysis), which streams what
the job needs to its worker with a deadline and keeps what comes back, asking
this loop (job.py's `Dispatch`) for the rest: the dispatcher writes progress
and the time left (throttled) to the job's work and the event log, stores the
results and ends the job, or fails it with a readable message. It renews the
lease while the work runs and cancels the call the moment the job is gone (its
takes discarded), which stops the model. A worker that is full
(RESOURCE_EXHAUSTED) makes it back off and retry; a worker that died or can't be
reached is retried a few times before the job ends in error. A job whose
dispatcher died is claimed again when its lease runs out. A job that needs
others done first (Waits) goes back to the queue waiting on them.

While the database is away (the store raises Unavailable and has logged it
once), the loop backs off and tries again, and a running job is left to its
lease: nothing can be written about it, and once the lease runs out it is
claimed again, here or by another replica. No task it starts ends with an
error nobody reads.

The dispatcher knows no kind by name: server.py builds the kinds and their
workers and hands them over.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import grpc

from sparrow_chain import blobs as blob_store
from sparrow_chain.audio_work import AudioWork
from sparrow_chain.blobs import BlobStore
from sparrow_chain.config import Settings
from sparrow_chain.job import Kind, Read, Waits
from sparrow_chain.metrics import JOBS_ENDED
from sparrow_chain.store import Claimed, JobQueue
from sparrow_chain.store.engine import again_when_chosen
from sparrow_chain.workers import Chunk, Done, Progress, Received, Worker
from sparrow_common import request_id
from sparrow_common.errors import MODEL_LOADING, SparrowError, Unavailable
from sparrow_common.ids import new_id

log = logging.getLogger(__name__)

# Claims stop at most this long while the database is away (the poll doubling up to it).
AWAY_BACKOFF_MAX_S = 5.0
# These mean the request can't succeed however often it is tried.
_FINAL = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED}


def readable(error: Exception) -> str:
    """What a node's error says of a failed job: a domain error's words and the
    kinds' own RuntimeErrors (written for musicians) as they are; anything else
    (an OSError with the server's paths, a library's errno) as a plain
    sentence, its detail left to the log."""
    if isinstance(error, SparrowError) or type(error) is RuntimeError:
        return str(error)
    return "something went wrong on the server (its log has the details); try again"


class JobGone(Exception):
    """Every take of the job was discarded, or another dispatcher took it over."""


class Dispatcher:
    """Claims the jobs of `kinds` (by their names, takes first) and runs each
    through its kind, up to `settings.dispatch_slots` at once; job.py's
    `Dispatch` is what a kind's run may ask of it."""

    def __init__(self, jobs: JobQueue, kinds: list[Kind], blobs: BlobStore, audio: AudioWork, settings: Settings):
        self.jobs = jobs
        self.kinds: dict[str, Kind] = {kind.name: kind for kind in kinds}
        self.blobs = blobs
        self.audio = audio
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"
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
        pause = self.settings.job_poll_s
        while True:
            await self.free.acquire()
            queued = self._queued
            try:
                job = await asyncio.to_thread(self.jobs.claim, self.owner, self.settings.lease_s, tuple(self.kinds))
                pause = self.settings.job_poll_s
            except Unavailable:  # the store said so; back off while the database is away
                job = None
                pause = min(pause * 2, max(AWAY_BACKOFF_MAX_S, self.settings.job_poll_s))
            except Exception:  # noqa: BLE001 - the loop goes on; the log has why
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self.free.release()
                try:
                    await asyncio.wait_for(queued.wait(), pause)
                except TimeoutError:
                    pass
                continue
            if job.id in self.active:
                # Its lease ran out while the database was away, and the work goes on here.
                self.free.release()
                continue
            self.kinds[job.kind].changed(job)
            task = asyncio.create_task(self._work(job), name=f"job {job.id}")
            self.active[job.id] = task
            task.add_done_callback(lambda _, job_id=job.id: self._done(job_id))

    def _done(self, job_id: str) -> None:
        self.active.pop(job_id, None)
        self.free.release()
        self.job_queued()  # its end may have released jobs waiting on it

    async def stop(self) -> None:
        """Stop claiming and hand running jobs back to the queue for another replica."""
        for task in list(self.active.values()):
            task.cancel()
        await asyncio.gather(*self.active.values(), return_exceptions=True)

    # -- one job --------------------------------------------------------------

    async def _work(self, job: Claimed) -> None:
        # This task's logs, and the worker's, carry the id of the request that asked.
        request_id.use(job.request_id or request_id.new())
        kind = self.kinds[job.kind]
        outcome = "done"
        try:
            outcome = await self._outcome(job, kind)
        except asyncio.CancelledError:
            outcome = "handed_back"
            raise
        except Unavailable as error:
            # Whether in the work or in saying how it ended: nothing can be written
            # now, so the job is left to its lease (claimed again once it runs out).
            outcome = "left_to_lease"
            log.info("job %s is left to its lease: %s", job.id, error)
        except Exception:  # noqa: BLE001 - a job's task never ends with an error nobody reads
            outcome = "error"
            log.exception("job %s could not be ended; its lease hands it back", job.id)
        finally:
            JOBS_ENDED.labels(job.kind, outcome).inc()
            kind.changed(job)

    async def _outcome(self, job: Claimed, kind: Kind) -> str:
        """Run the job through its kind and end, retry or hand it back; says which."""
        outcome = "done"
        try:
            await kind.run(job, self)
        except JobGone:
            outcome = "gone"
            log.info("job %s stopped: it is gone", job.id)
        except Waits as waits:
            outcome = "waits"
            await asyncio.to_thread(
                self.jobs.wait, job.id, self.owner, waits.on, waits.fails_as, self.settings.retry_base_s
            )
            self.job_queued()  # what it waits on may just have been asked for
        except asyncio.CancelledError:
            await asyncio.shield(self._hand_back(job))
            raise
        except grpc.aio.AioRpcError as error:
            outcome = await self._after_failed_call(job, error, kind.what)
        except Unavailable:
            raise
        except Exception as error:  # noqa: BLE001 - becomes the work's error
            outcome = "error"
            log.warning("job %s failed: %s", job.id, error, exc_info=not isinstance(error, RuntimeError))
            await asyncio.to_thread(self.jobs.fail, job.id, self.owner, f"{kind.what} failed: {readable(error)}")
        return outcome

    async def _hand_back(self, job: Claimed) -> None:
        """Give a job this dispatcher stops running back to the queue at once;
        while the database is away, its lease does that later."""
        try:
            await asyncio.to_thread(self.jobs.retry, job.id, self.owner, 0.0, False)
        except Unavailable as error:
            log.info("job %s is left to its lease: %s", job.id, error)

    async def _after_failed_call(self, job: Claimed, error: grpc.aio.AioRpcError, what: str) -> str:
        """Retry, wait or fail the job after its call failed; says which."""
        code, details = error.code(), error.details() or error.code().name
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED or MODEL_LOADING in details:
            log.info("%s worker busy or loading (%s); job %s waits", what, details, job.id)
            await asyncio.to_thread(self.jobs.retry, job.id, self.owner, self.settings.retry_base_s, False)
            return "waits"
        if code in _FINAL:
            await asyncio.to_thread(self.jobs.fail, job.id, self.owner, f"{what} failed: {details}")
            return "error"
        if job.attempts < self.settings.max_attempts:
            delay = self.settings.retry_base_s * 2 ** (job.attempts - 1)
            log.warning("job %s attempt %d failed (%s: %s); retrying in %.1fs", job.id, job.attempts, code.name, details, delay)
            await asyncio.to_thread(self.jobs.retry, job.id, self.owner, delay)
            return "retried"
        await asyncio.to_thread(self.jobs.fail, job.id, self.owner, f"{what} failed after {job.attempts} attempts: {details}")
        return "error"

    # -- what a kind's run asks of it (job.py's Dispatch) ----------------------

    @contextmanager
    def receiving(self):
        """Files for what a worker streams back (Received)."""
        with Received(self.blobs) as received:
            yield received

    async def follow(self, job: Claimed, call, read: Read, received: Received | None = None) -> Done | None:
        """Read a worker's replies (each through `read`) while keeping the job's
        lease: progress is recorded at most every progress_interval_s, chunks
        (from a worker that sends files) are written to `received` by their key.
        Returns the call's Done (None if it never came)."""
        kind = self.kinds[job.kind]
        gone = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(job, call, gone))
        done = None
        written_at = 0.0
        try:
            async for message in call:
                reply = read(message)
                if reply is None:
                    continue
                if isinstance(reply, Progress):
                    if time.monotonic() - written_at >= self.settings.progress_interval_s or reply.step >= reply.total:
                        written_at = time.monotonic()
                        fraction = min(reply.step / reply.total, 0.99)
                        try:
                            await asyncio.to_thread(self.jobs.progress, job.id, self.owner, fraction, reply.eta_s)
                        except Unavailable:  # the work goes on; the next step is written when it can be
                            continue
                        kind.changed(job)
                elif isinstance(reply, Chunk):
                    if received is None:
                        raise RuntimeError(f"the {kind.worker.service} worker sent audio where none was asked for")
                    received.write(reply.key, reply.data)
                elif isinstance(reply, Done):
                    done = reply
        except asyncio.CancelledError:
            if gone.is_set():
                raise JobGone() from None
            raise
        finally:
            keeper.cancel()
        return done

    async def finish(self, job: Claimed, files: dict[str, tuple[Path, str]]) -> None:
        """Store each received file (its path, its blob key) as the job's result
        by name, and end the job; blobs whose result lost its home (discarded
        meanwhile, or the lease lost) are deleted."""
        stored = {}
        try:
            for name, (path, key) in files.items():
                stored[name] = await self.audio.run(blob_store.store, self.blobs, path, key)
            orphans = await self.end(job, stored)
        except BaseException:
            for audio in stored.values():
                self.blobs.delete(audio.key)
            raise
        for name in orphans:
            self.blobs.delete(stored[name].key)

    async def end(self, job: Claimed, results: dict) -> list[str]:
        """End the job with its results; the names of those left without a home."""
        orphans = await asyncio.to_thread(again_when_chosen, self.jobs.finish, job.id, self.owner, results)
        log.info("job %s (%s) done: %d result(s)", job.id, job.kind, len(results) - len(orphans))
        return orphans

    async def wait_for_worker(self, job: Claimed, worker: Worker) -> None:
        """Wait (renewing the lease) until a worker answers, or give up with a reason."""
        ready = asyncio.ensure_future(worker.channel.channel_ready())
        deadline = time.monotonic() + self.settings.worker_wait_s
        try:
            while not ready.done():
                await asyncio.wait({ready}, timeout=min(self.settings.lease_s / 3, max(deadline - time.monotonic(), 0)))
                if ready.done():
                    break
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"the {worker.service} service at {worker.address} can't be reached "
                        f"(waited {self.settings.worker_wait_s:.0f}s)"
                    )
                try:
                    alive = await asyncio.to_thread(self.jobs.renew, job.id, self.owner, self.settings.lease_s)
                except Unavailable:  # the store said so; try again at the next beat
                    continue
                if not alive:
                    raise JobGone()
        finally:
            ready.cancel()

    async def _keep_lease(self, job: Claimed, call, gone: asyncio.Event) -> None:
        """Renew the lease until the call ends; cancel the call once the job is gone."""
        while True:
            await self._wait_for_pulse(self.settings.lease_s / 3)
            try:
                alive = await asyncio.to_thread(self.jobs.renew, job.id, self.owner, self.settings.lease_s)
            except Unavailable:  # the store said so; try again at the next beat
                continue
            except Exception:  # noqa: BLE001 - try again at the next beat
                log.exception("renewing job %s failed", job.id)
                continue
            if not alive:
                gone.set()
                call.cancel()
                return
