"""A GPU worker's model lifecycle, shared by generation and stems: load once in
the background, say why when it can't, and let calls know where it stands."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from sparrow_common.errors import MODEL_LOADING, Conflict, Unavailable
from sparrow_common.server import RunningServer, wait_for_shutdown

log = logging.getLogger(__name__)


class ModelUnavailable(Exception):
    """The model could not be loaded; the message says why in words."""


class Cancelled(Exception):
    """The caller went away and the engine stopped early."""


class Loadable(Protocol):
    def load(self) -> None: ...


class HasExecutor(Protocol):
    executor: Executor


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


async def load_in_background(engine: Loadable, state: ModelState, running: RunningServer, what: str) -> None:
    """Load the model off the event loop; health turns SERVING when it is loaded,
    and stays NOT_SERVING with the reason logged and kept in `state` when not."""
    try:
        await asyncio.to_thread(engine.load)
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
    servicer: HasExecutor
    loading: asyncio.Task

    async def close(self, grace_s: float = 0) -> None:
        self.loading.cancel()
        await self.running.server.stop(grace_s)
        self.servicer.executor.shutdown(wait=False, cancel_futures=True)

    async def serve(self, grace_s: float) -> None:
        """Serve until SIGTERM, then drain gracefully and let the model's threads go."""
        await wait_for_shutdown(self.running, grace_s)
        self.servicer.executor.shutdown(wait=False, cancel_futures=True)
