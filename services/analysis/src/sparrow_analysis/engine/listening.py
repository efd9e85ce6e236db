"""The analysis worker's engine: what start_worker loads and the servicer runs."""

from __future__ import annotations

import threading
from collections.abc import Callable

import librosa
import numpy as np

from sparrow_analysis.domain import Analysis, PathGrid, SeamReport
from sparrow_analysis.engine.listener import RATE, analyze, mono
from sparrow_analysis.engine.seam import SPAN_S, seam
from sparrow_common.engine import Cancelled

# Called after each part heard: (done, total).
StepCallback = Callable[[int, int], None]


class Listener:
    """Loads nothing but compiles librosa's numba kernels once, at the start,
    so the first musician's clip does not wait for them (some 18 s)."""

    model_id = f"librosa {librosa.__version__}"
    device = "cpu"
    sample_rate = RATE
    channels = 1

    def load(self) -> None:
        t = np.arange(4 * RATE) / RATE
        clicks = (np.sin(2 * np.pi * 220 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
        analyze(clicks, RATE)

    def hear(
        self,
        clip: np.ndarray,
        context: np.ndarray | None,
        grid: PathGrid | None,
        on_step: StepCallback,
        cancel: threading.Event,
    ) -> tuple[Analysis, SeamReport | None]:
        """The clip's analysis and, when `context` (the path before it) is
        given, its seam report, measured against `grid` (beats on `context`'s
        clock) when given. Both are (channels, samples) at RATE."""
        total = 1 if context is None else 3
        on_step(0, total)
        heard = analyze(clip, RATE)
        on_step(1, total)
        if context is None:
            return heard, None
        if cancel.is_set():
            raise Cancelled()
        span = int(SPAN_S * 4 * RATE)  # the path's last bars: enough beats to carry its grid on
        whole = mono(context, RATE)
        before = whole[-span:]
        path = analyze(before, RATE)
        on_step(2, total)
        if grid is not None:
            grid = grid.shifted((len(whole) - len(before)) / RATE)
        report = seam(before, mono(clip, RATE), RATE, path, heard, grid)
        on_step(3, total)
        return heard, report
