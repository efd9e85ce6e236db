"""A worker's model lifecycle, shared by generation, stems and analysis: load once in
the background, say why when it can't, and let calls know where it stands."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import grpc

from sparrow_common.engine import MELODY_CHECKPOINTS, Cancelled, ModelUnavailable, WorkerEngine
from sparrow_common.errors import MODEL_LOADING, Conflict, Unavailable
from sparrow_common.metrics import watch_slots
from sparrow_common.server import RunningServer, start_server, wait_for_shutdown
from sparrow_common.slots import Slots

log = logging.getLogger(__name__)

# Re-exported: what the workers' servers read from here.
__all__ = [
    "MELODY_CHECKPOINTS", "Cancelled", "ModelState", "ModelUnavailable", "WorkerEngine", "WorkerServer",
    "load_in_background", "start_worker",
]


class WorkerServicer(Protocol):
    # The model's blocking work runs here; `worker` names this worker in its capacity.
    executor: Executor
    worker: str


class WorkerSettings(Protocol):
    host: str
    port: int
    slots: int
    queue_limit: int


S = TypeVar("S", bound=WorkerServicer)


class ModelState:
    """Whether the engine is loading, ready or failed, and why."""

    def __init__(self) -> None:
        self.ready = False
        self.reason = MODEL_LOADING

    def check(self) -> None:
        """Raise Unavailable while loading and Conflict (with the reason) once
        loading failed, so callers wait for the first and give up on the second."""
        if self.ready:
            return
        if self.reason == MODEL_LOADING:
            raise Unavailable(self.reason)
        raise Conflict(self.reason)


async def load_in_background(
    engine: WorkerEngine, state: ModelState, running: RunningServer, what: str, executor: Executor
) -> None:
    """Load the model off the event loop, in the `executor` that will run it;
    health turns SERVING when it is loaded, and stays NOT_SERVING with the reason
    logged and kept in `state` when not.

    The thread that runs the model loads it: loaded by one thread and run by
    another, a musicgen-small take took 12 to 18 s on the CPU against 8 s when
    one thread did both (measured; the weights then live in another thread's
    malloc arena than everything the running thread allocates)."""
    try:
        await asyncio.get_running_loop().run_in_executor(executor, engine.load)
    except ModelUnavailable as error:
        state.reason = str(error)
        log.error("%s is unavailable: %s", what, error)
        return
    state.ready = True
    state.reason = ""
    await running.set_serving(True)


@dataclass
class WorkerServer:
    """A started GPU worker: its server, its servicer (whose executor runs the
    model) and the model loading behind them."""

    running: RunningServer
    servicer: WorkerServicer
    loading: asyncio.Task

    async def close(self, grace_s: float = 0) -> None:
        self.loading.cancel()
        await self.running.server.stop(grace_s)
        self.servicer.executor.shutdown(wait=False, cancel_futures=True)

    async def serve(self, grace_s: float) -> None:
        """Serve until SIGTERM, then drain gracefully and let the model's threads go."""
        await wait_for_shutdown(self.running, grace_s)
        self.servicer.executor.shutdown(wait=False, cancel_futures=True)


async def start_worker(
    settings: WorkerSettings,
    engine: WorkerEngine,
    what: str,
    service_name: str,
    servicer_for: Callable[[Slots, ModelState, str], S],
    add_servicer: Callable[[S, grpc.aio.Server], None],
) -> WorkerServer:
    """Start serving at once (health NOT_SERVING, capacity saying why) and load
    the model in the background; health turns SERVING when it is loaded.
    `servicer_for(slots, state, worker)` makes the service's servicer."""
    state = ModelState()
    slots = Slots(settings.slots, settings.queue_limit)
    watch_slots(slots)
    servicer = servicer_for(slots, state, f"{socket.gethostname()}:{settings.port}")
    running = await start_server(
        host=settings.host,
        port=settings.port,
        register=lambda server: add_servicer(servicer, server),
        service_names=[service_name],
    )
    servicer.worker = f"{socket.gethostname()}:{running.port}"
    loading = asyncio.create_task(load_in_background(engine, state, running, what, servicer.executor))
    return WorkerServer(running, servicer, loading)
