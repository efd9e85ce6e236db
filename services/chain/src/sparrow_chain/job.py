"""What a kind of job is to the dispatcher, and what it may ask of it.

Each kind (kinds/takes.py, kinds/stems.py, kinds/analysis.py) is one class with
its worker and its call; the dispatcher (dispatcher.py) claims its jobs and keeps
their leases. Neither imports the other: both meet here, and server.py builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sparrow_chain.workers import Chunk, Done, Progress, Received, Worker


class Waits(Exception):
    """The job needs other jobs done first (stems, an analysis): it goes back to
    the queue waiting on them (`on`, their ids), its attempt not counted, and is
    not claimed again until they are done (store/queue.py). When one of them
    fails the job fails too, saying `fails_as` and why; with `fails_as` None it
    goes on without."""

    def __init__(self, on: list[str], fails_as: str | None):
        super().__init__(f"waits on {len(on)} job(s)")
        self.on = on
        self.fails_as = fails_as


# One reply of a worker's stream read into one shape; None for what is not passed on.
Read = Callable[[Any], Progress | Chunk | Done | None]


class Dispatch(Protocol):
    """What a kind's run asks of the dispatcher for one claimed job."""

    async def wait_for_worker(self, job, worker: Worker) -> None:
        """Wait (keeping the lease) until `worker` answers; RuntimeError naming it
        when it doesn't in time."""

    def receiving(self) -> AbstractContextManager[Received]:
        """Files for what the worker streams back, deleted unless stored."""

    async def follow(self, job, call, read: Read, received: Received | None = None) -> Done | None:
        """Read the call's replies (each through `read`) while keeping the lease:
        progress recorded, chunks written to `received`; the call's Done."""

    async def finish(self, job, files: dict[str, tuple[Path, str]]) -> None:
        """Store each file (its path, its blob key) as the job's result by name, and end the job."""

    async def end(self, job, results: dict) -> list[str]:
        """End the job with `results`; the names of those left without a home."""


class Kind(Protocol):
    """One kind of job: what it sends its worker and keeps of the answer. The
    lease, progress, retries and failures are the dispatcher's, alike for every kind."""

    # Its name in the queue (`jobs.kind`) and in the metrics.
    name: str
    # In words, for the messages a musician reads: "generation failed: ...".
    what: str
    worker: Worker

    def changed(self, job) -> None:
        """Tell the job's watchers something changed."""

    async def run(self, job, dispatch: Dispatch) -> None:
        """Do the job through `dispatch`; raises Waits when it needs other jobs
        done first, and what the call raised."""
