"""Running a model's blocking work off the event loop, with its progress
streamed back and a cancel flag it checks, for every worker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Any

from sparrow_common.slots import Slots

# fn(*args, on_step, cancel): on_step(done, total) from the worker thread;
# `cancel` is set when the caller goes away, and fn should stop soon after.
BlockingWork = Callable[..., Any]
# About how many progress updates a call passes on, however many steps it has.
PROGRESS_STEPS = 100


class Progress(tuple):
    """(done, total) reported by the work."""

    __slots__ = ()

    @property
    def done(self) -> int:
        return self[0]

    @property
    def total(self) -> int:
        return self[1]


class Finished:
    """The work's result, the last thing `run_blocking` yields."""

    def __init__(self, value: Any):
        self.value = value


async def run_blocking(
    executor: Executor, slots: Slots, work: BlockingWork, *args: Any, weight: int = 1
) -> AsyncIterator[Progress | Finished]:
    """Run `work` in `executor`, yielding its Progress as it reports it and then
    Finished(result). The slot (`weight` units of them) is released once the
    worker thread is free, even when the caller goes away first (which sets the
    cancel flag)."""
    loop = asyncio.get_running_loop()
    steps: asyncio.Queue[Progress] = asyncio.Queue()
    cancel = threading.Event()
    passed_on = -1

    def on_step(done: int, total: int) -> None:
        # The first and last steps, and in between one per hundredth of the
        # work: a fast GPU (or a tiny model) steps far more often than a progress
        # bar needs, and each step passed on is a message to the caller.
        nonlocal passed_on
        if 0 <= passed_on and done < total and (done - passed_on) * PROGRESS_STEPS < total:
            return
        passed_on = done
        loop.call_soon_threadsafe(steps.put_nowait, Progress((done, total)))

    future = loop.run_in_executor(executor, lambda: work(*args, on_step, cancel))
    future.add_done_callback(lambda _: slots.release(weight))
    try:
        while not future.done():
            waiter = asyncio.ensure_future(steps.get())
            await asyncio.wait({future, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                yield waiter.result()
            else:
                waiter.cancel()
        # Steps reported before the work returned are queued ahead of its result:
        # pass them on too, so the last one (done == total) is never lost.
        while not steps.empty():
            yield steps.get_nowait()
        result = future.result()
    finally:
        if not future.done():
            cancel.set()
    yield Finished(result)


async def wait_for_slot(slots: Slots, weight: int = 1) -> AsyncIterator[int]:
    """Take a slot (`weight` units of them), yielding this call's place in line
    (1 = next) every second while it waits. Raises Busy when the line is full."""
    turn = slots.reserve(weight)
    if turn is None:
        return
    try:
        while not turn.done():
            yield slots.position(turn)
            await asyncio.wait({turn}, timeout=1.0)
    except BaseException:
        slots.leave(turn, weight)
        raise
