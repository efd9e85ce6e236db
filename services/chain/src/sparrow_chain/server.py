"""Builds and runs the chain service: database, blobs, the workers and the
kinds of job, the dispatcher, gRPC server."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sparrow.v1 import analysis_pb2_grpc, chain_pb2, chain_pb2_grpc, generation_pb2_grpc, stems_pb2_grpc

from sparrow_chain.audio_work import AudioWork
from sparrow_chain.bell import EventBell
from sparrow_chain.blobs import LocalBlobStore
from sparrow_chain.config import Settings
from sparrow_chain.dispatcher import Dispatcher
from sparrow_chain.job import Kind
from sparrow_chain.kinds.analysis import Analysis
from sparrow_chain.kinds.stems import Stems
from sparrow_chain.kinds.takes import Takes
from sparrow_chain.notices import follow_notices
from sparrow_chain.metrics import watch_jobs
from sparrow_chain.servicer import ChainServicer
from sparrow_chain.store import ChainStore, JobQueue, make_engine, migrate
from sparrow_chain.workers import Worker
from sparrow_common.errors import Unavailable
from sparrow_common.metrics import serve_metrics
from sparrow_common.server import RunningServer, start_server, wait_for_shutdown

log = logging.getLogger(__name__)

SERVICE_NAME = chain_pb2.DESCRIPTOR.services_by_name["ChainService"].full_name
# Another replica may be between writing a blob and its row; leave young blobs be.
ORPHAN_AGE_S = 600.0
# The bin sweeper looks again this soon after the database was away.
DATABASE_AWAY_RETRY_S = 60.0


@dataclass
class ChainServer:
    running: RunningServer
    store: ChainStore
    blobs: LocalBlobStore
    audio: AudioWork
    workers: list[Worker]
    dispatcher: Dispatcher
    dispatching: asyncio.Task
    following: asyncio.Task
    sweeping: asyncio.Task

    async def stop_dispatching(self) -> None:
        for task in (self.dispatching, self.following, self.sweeping):
            task.cancel()
        await asyncio.gather(self.dispatching, self.following, self.sweeping, return_exceptions=True)
        await self.dispatcher.stop()
        for worker in self.workers:
            await worker.close()

    async def close(self, grace_s: float = 0) -> None:
        await self.stop_dispatching()
        await self.running.server.stop(grace_s)
        self.audio.close()
        self.blobs.close()
        self.store.engine.dispose()


def sweep_orphans(store: ChainStore, blobs: LocalBlobStore, older_than_s: float = ORPHAN_AGE_S) -> int:
    """Delete blobs no node refers to (left by a crash between blob and row)."""
    blobs.clear_incoming(older_than_s)
    known = store.audio_keys()
    cutoff = time.time() - older_than_s
    removed = 0
    for key, mtime in list(blobs.keys()):
        if key not in known and mtime <= cutoff:
            blobs.delete(key)
            removed += 1
    return removed


async def empty_old_bins(servicer: ChainServicer, ttl_s: float) -> None:
    """Delete what has been in a bin longer than `ttl_s`, looking every tenth
    of it (at most hourly), until cancelled; sooner again after the database
    was away (the store has said so in the log)."""
    interval = min(ttl_s / 10, 3600.0)
    while True:
        wait = interval
        try:
            deleted = await servicer.sweep_bin(ttl_s)
        except Unavailable:
            wait = min(interval, DATABASE_AWAY_RETRY_S)
        except Exception:  # noqa: BLE001 - the sweeper goes on; the log has why
            log.exception("emptying old bins failed")
        else:
            if deleted:
                log.info("deleted %d nodes that were in a bin for over %.0f s", deleted, ttl_s)
        await asyncio.sleep(wait)


async def build_server(settings: Settings) -> ChainServer:
    """Migrate the database, sweep orphaned blobs and start serving (SERVING)."""
    engine = make_engine(settings.database_url, settings.database_timeout_s)
    await asyncio.to_thread(migrate, engine)
    store = ChainStore(engine, bool(settings.analysis_addr), settings.analysis_queue_per_user)
    blobs = LocalBlobStore(settings.blob_dir)
    swept = await asyncio.to_thread(sweep_orphans, store, blobs)
    if swept:
        log.info("removed %d orphaned blobs", swept)
    bell = EventBell()
    analyze = bool(settings.analysis_addr)
    queue = JobQueue(engine, analyze, settings.analysis_queue_per_user)
    audio = AudioWork(settings.audio_threads)
    generation = Worker("generation", settings.generation_addr, generation_pb2_grpc.GenerationServiceStub)
    stems = Worker("stems", settings.stems_addr, stems_pb2_grpc.StemsServiceStub)
    workers = [generation, stems]
    writing = Takes(generation, queue.takes, queue.stems, blobs, audio, settings, on_change=bell.ring)
    kinds: list[Kind] = [writing, Stems(stems, blobs, settings, on_change=bell.ring)]
    listening = None
    if analyze:
        analysis = Worker("analysis", settings.analysis_addr, analysis_pb2_grpc.AnalysisServiceStub)
        workers.append(analysis)
        listening = Analysis(analysis, queue.takes, blobs, audio, settings, on_change=bell.ring)
        kinds.append(listening)
    dispatcher = Dispatcher(queue, kinds, blobs, audio, settings)

    def changed(chain_id: str) -> None:
        bell.ring(chain_id)
        dispatcher.poke()

    servicer = ChainServicer(
        store, blobs, settings, bell, on_change=changed, stems=queue.stems, generation=generation.stub, audio=audio,
        writing=writing, listening=listening,
    )
    running = await start_server(
        host=settings.host,
        port=settings.port,
        register=lambda server: chain_pb2_grpc.add_ChainServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
    )
    await running.set_serving(True)
    dispatching = asyncio.create_task(
        dispatcher.run() if settings.dispatch_slots > 0 else asyncio.sleep(0), name="dispatcher"
    )
    following = asyncio.create_task(
        follow_notices(settings.database_url, on_event=bell.ring, on_job=dispatcher.job_queued, on_reconnect=bell.ring_all),
        name="notices",
    )
    sweeping = asyncio.create_task(empty_old_bins(servicer, settings.bin_ttl_s), name="bin sweeper")
    watch_jobs(queue)
    return ChainServer(running, store, blobs, audio, workers, dispatcher, dispatching, following, sweeping)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM, then drain gracefully."""
    server = await build_server(settings)
    serve_metrics(settings.host, settings.metrics_port)
    await wait_for_shutdown(server.running, settings.grace_s, before_stop=server.stop_dispatching)
    server.store.engine.dispose()
