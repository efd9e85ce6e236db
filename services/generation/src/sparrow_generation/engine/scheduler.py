"""One thread per device owns the decoder and steps every take in flight together.

Continuous batching, as Orca and vLLM do it: a request's window (engine/musicgen.py
cuts a take into windows) is admitted between two steps, prefilled once, and its
takes become rows of the static cache (engine/rows.py); every step then draws a
token for every row of every window at once and feeds them back in one pass; a
window whose steps are done retires at once (its codes go back to the caller,
its rows are free for the next admission); a cancelled request's rows are dropped
before the next step.

Rows at different positions, not admission cohorts: each row carries its own
position and length, so a request that arrives while others are half-way joins
them at the next step, and no request waits for a cohort to fill or to finish.
Cohorts (wait a few ms, then run a group in lockstep to its end) would make a
late request wait for the longest take in flight, seconds on a GPU, to save
nothing: the per-row position costs one index per row.

A take's codes do not depend on what shares its steps: its random stream is its
own (engine/sampling.py), its knobs are its own, and every operation of the step
is per row (engine/rows.py says which).

What runs where: the description's T5 encoding, the prompt's EnCodec encoding and
the final EnCodec decode run in the caller's thread (one per call), never in the
step loop; this thread runs only prefills and steps.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import torch

from sparrow_common.engine import Cancelled

from sparrow_generation.engine.decoding import Conditioning, Prefill
from sparrow_generation.engine.pattern import DelayPattern
from sparrow_generation.engine.rows import Rows, upload
from sparrow_generation.engine.sampling import Sampling, draw

log = logging.getLogger(__name__)

# Steps per second is measured over this many of the latest steps.
PACE_STEPS = 64


@dataclass(eq=False)
class Window:
    """One window of one request's takes, as the caller hands it over."""

    # (1, K, P) shared by every take, or (takes, K, P), each take's own.
    prompt: torch.Tensor
    new_frames: int
    # One row per prefill row: [cond] or [cond, uncond] for a shared prompt,
    # [cond x takes, uncond x takes] for the takes' own.
    conditioning: Conditioning
    sampling: Sampling
    guided: bool
    # The takes' random streams are at this step when the window starts.
    first_step: int
    # Called from the scheduler's thread with the window's steps done.
    on_step: Callable[[int], None]
    cancel: threading.Event
    # Resolves to the window's new codes, (takes, K, new_frames).
    future: Future = field(default_factory=Future)
    # Set by the scheduler once admitted.
    cond: list[int] = field(default_factory=list)
    uncond: list[int] = field(default_factory=list)
    forced: torch.Tensor | None = None
    step: int = 0
    total: int = 0

    @property
    def takes(self) -> int:
        return self.sampling.keys.shape[0]

    @property
    def slots(self) -> list[int]:
        return self.cond + self.uncond


class Scheduler:
    """The device's thread: runs what it is handed (loading the model) and the
    step loop over every window admitted."""

    def __init__(self, name: str = "decoder"):
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.rows: Rows | None = None
        self.prefill: Prefill | None = None
        self.pattern: DelayPattern | None = None
        self.active: list[Window] = []
        # Steps run, each for every row in flight: what a GPU pays for.
        self.steps = 0
        self._times: deque[float] = deque(maxlen=PACE_STEPS)
        # The pace over the latest steps (0 before two), kept by this thread
        # for readers on others.
        self.steps_per_second = 0.0
        self._batch: _Batch | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- from other threads ---------------------------------------------------

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the device's thread, between steps, and return its result."""
        future: Future = Future()
        self._inbox.put((fn, future))
        return future.result()

    def attach(self, decoder: torch.nn.Module, pattern: DelayPattern, device: str, graphs: bool = True) -> None:
        """Take over the loaded decoder (called on this thread, by the loader)."""
        self.rows = Rows(decoder, device, graphs)
        self.prefill = Prefill(decoder)
        self.pattern = pattern

    def submit(self, window: Window) -> Future:
        """Admit `window` at the next step; its future gives its codes, or
        raises Cancelled once `window.cancel` is set."""
        self._inbox.put(window)
        return window.future

    @property
    def rows_in_flight(self) -> int:
        return sum(len(w.slots) for w in tuple(self.active))


    # -- the device's thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            self._receive(block=not self.active)
            if not self.active:
                continue
            try:
                with torch.inference_mode():
                    self._step()
            except Exception as error:  # noqa: BLE001 - every window in flight hears it
                log.exception("the decoding step failed; %d window(s) end with it", len(self.active))
                for window in list(self.active):
                    self._retire(window, error=error)

    def _receive(self, block: bool) -> None:
        while True:
            try:
                item = self._inbox.get(block=block)
            except queue.Empty:
                return
            block = False
            if isinstance(item, Window):
                with torch.inference_mode():
                    self._admit(item)
            else:
                fn, future = item
                try:
                    future.set_result(fn())
                except BaseException as error:  # noqa: BLE001 - handed back to the caller
                    future.set_exception(error)

    def _admit(self, window: Window) -> None:
        """Prefill the window and give its takes their rows."""
        if window.cancel.is_set():
            window.future.set_exception(Cancelled())
            return
        try:
            rows, pattern = self.rows, self.pattern
            takes, own = window.takes, window.prompt.shape[0] > 1
            ids = pattern.prefill(window.prompt)
            logits, cache = self.prefill(torch.cat([ids, ids]) if window.guided else ids, window.conditioning)
            window.total = pattern.steps(window.new_frames)
            rows.reserve_length(cache.self_attention_cache.get_seq_length() + window.total)
            window.cond = rows.take(takes)
            window.uncond = rows.take(takes) if window.guided else []
            groups = len(ids)  # prefill rows per guidance half
            sources = [t if own else 0 for t in range(takes)]
            if window.guided:
                sources += [groups + s for s in sources]
            rows.place(window.slots, sources, cache, window.conditioning.mask)
            rows.pending[window.slots] = logits[sources].float()
            window.forced = pattern.forced(window.prompt, takes)
            rows.reserve_history(window.total)
        except BaseException as error:  # noqa: BLE001 - the caller hears it, the others go on
            log.exception("admitting a window failed")
            self._retire(window, error=error)
            return
        self.active.append(window)
        self._batch = None

    def _step(self) -> None:
        rows, pattern = self.rows, self.pattern
        for window in [w for w in self.active if w.cancel.is_set()]:
            self._retire(window, error=Cancelled())
        if not self.active:
            return
        batch = self._batch = self._batch or _Batch.of(self.active, pattern, rows.device)
        steps = upload([w.step for w in self.active for _ in range(w.takes)], rows.device)
        drawn = draw(rows.pending[batch.cond], rows.pending[batch.uncond], batch.sampling, batch.first_step + steps)
        kept = pattern.keep(drawn, batch.forced, steps, batch.ends)
        rows.history[batch.cond, :, steps] = kept
        rows.tokens[batch.cond] = kept
        rows.tokens[batch.uncond] = kept
        self.steps += 1
        self._times.append(time.monotonic())
        if len(self._times) > 1 and self._times[-1] > self._times[0]:
            self.steps_per_second = (len(self._times) - 1) / (self._times[-1] - self._times[0])
        for window in list(self.active):
            window.step += 1
            window.on_step(window.step)
            if window.step == window.total:
                self._retire(window)
        if self.active:
            span = rows.span
            rows.pending[:span] = rows.step(rows.tokens[:span], span).float()

    def _retire(self, window: Window, error: BaseException | None = None) -> None:
        """The window leaves: its codes (or the error) to the caller, its rows freed."""
        if window in self.active:
            self.active.remove(window)
            self._batch = None
        if window.slots:
            if error is None:
                grid = self.rows.history[window.cond, :, : window.total]
                codes = self.pattern.new_codes(grid, window.new_frames).clone()
            self.rows.give_back(window.slots)
        if not window.future.done():
            if error is None:
                window.future.set_result(codes)
            else:
                window.future.set_exception(error)


@dataclass(frozen=True)
class _Batch:
    """The windows in flight as one set of rows, rebuilt when one joins or leaves."""

    cond: torch.Tensor  # (takes,) each take's conditional row
    uncond: torch.Tensor  # (takes,) its unconditional row, or its conditional one without guidance
    sampling: Sampling
    forced: torch.Tensor  # (takes, K, max_delay + 1)
    ends: torch.Tensor  # (takes, K): from which step each codebook pads
    first_step: torch.Tensor  # (takes,): the random stream's step at the window's start

    @classmethod
    def of(cls, windows: list[Window], pattern: DelayPattern, device) -> _Batch:
        def per_take(value) -> list:
            return [item for w in windows for item in [value(w)] * w.takes]

        return cls(
            cond=upload([slot for w in windows for slot in w.cond], device),
            uncond=upload([slot for w in windows for slot in (w.uncond or w.cond)], device),
            sampling=Sampling.join([w.sampling for w in windows]),
            forced=torch.cat([w.forced for w in windows]),
            ends=upload(per_take(lambda w: pattern.ends(w.new_frames)), device),
            first_step=upload(per_take(lambda w: w.first_step), device),
        )


__all__ = ["Scheduler", "Window"]
