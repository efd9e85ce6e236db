"""AnalysisService over gRPC: a clip (and the path it continues) in, progress
and its analysis out. Protobuf stays here and in convert.py."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sparrow.v1 import analysis_pb2, analysis_pb2_grpc, common_pb2
from sparrow_common.audio import decode
from sparrow_common.convert import capacity_to_pb
from sparrow_common.errors import InvalidArgument
from sparrow_common.model import ModelState
from sparrow_common.slots import Slots
from sparrow_common.work import Finished, run_blocking, wait_for_slot

from sparrow_analysis.convert import analysis_to_pb, path_grid_from_pb, seam_to_pb
from sparrow_analysis.domain import PathGrid
from sparrow_analysis.engine.listening import Listener
from sparrow_analysis.engine.seam import SPAN_S

log = logging.getLogger(__name__)

MAX_CLIP_BYTES = 256 * 1024 * 1024
# The path's last seconds are all a seam report hears.
CONTEXT_S = 4 * SPAN_S


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, engine: Listener, slots: Slots, state: ModelState, worker: str, max_duration_s: float):
        self.engine = engine
        self.slots = slots
        self.state = state
        self.worker = worker
        self.max_duration_s = max_duration_s
        # One thread per slot: each analysis runs on one core.
        self.executor = ThreadPoolExecutor(max_workers=max(slots.slots, 1), thread_name_prefix="hear")

    async def GetCapacity(self, request, context):
        return analysis_pb2.AnalysisServiceGetCapacityResponse(
            capacity=capacity_to_pb(
                self.worker,
                self.slots,
                self.engine.model_id,
                self.engine.device,
                self.state,
                supports_melody=False,
            )
        )

    async def Analyze(self, request_iterator, context):
        clip, before, grid = await self._read_request(request_iterator)
        self.state.check()
        async for position in wait_for_slot(self.slots):
            yield analysis_pb2.AnalyzeResponse(queued=common_pb2.Queued(position=position))
        async for update in run_blocking(self.executor, self.slots, self.engine.hear, clip, before, grid):
            if isinstance(update, Finished):
                heard, report = update.value
                done = analysis_pb2.AnalyzeDone(analysis=analysis_to_pb(heard))
                if report is not None:
                    done.seam.CopyFrom(seam_to_pb(report))
                yield analysis_pb2.AnalyzeResponse(done=done)
            else:
                yield analysis_pb2.AnalyzeResponse(
                    progress=common_pb2.Progress(step=update.done, total=update.total)
                )

    async def _read_request(self, request_iterator) -> tuple[np.ndarray, np.ndarray | None, PathGrid | None]:
        # Everything is read before anything is checked, so the caller reads our
        # status, not a broken stream.
        setup_seen, out_of_order, too_long, grid = False, False, False, None
        parts = {"chunk": bytearray(), "context_chunk": bytearray()}
        async for message in request_iterator:
            kind = message.WhichOneof("part")
            if kind == "setup" and not setup_seen and not any(parts.values()):
                setup_seen = True
                grid = path_grid_from_pb(message.setup)
            elif kind in parts and setup_seen:
                received = parts[kind]
                if len(received) + len(getattr(message, kind).data) > MAX_CLIP_BYTES:
                    too_long = True
                    received.clear()
                if not too_long:
                    received += getattr(message, kind).data
            else:
                out_of_order = True
        if not setup_seen or out_of_order:
            raise InvalidArgument("send the setup first, then only the clip's (and the context's) chunks")
        if too_long:
            raise InvalidArgument(f"the audio is over {MAX_CLIP_BYTES // 2**20} MiB")
        if not parts["chunk"]:
            raise InvalidArgument("the request holds no clip")
        clip = await self._decode(bytes(parts["chunk"]), "clip")
        if clip.shape[-1] / self.engine.sample_rate > self.max_duration_s:
            raise InvalidArgument(
                f"the clip is {clip.shape[-1] / self.engine.sample_rate / 60:.1f} minutes long; "
                f"the analysis worker takes up to {self.max_duration_s / 60:g} minutes"
            )
        before = None
        if parts["context_chunk"]:
            # The grid's beats are on the clock of the context as sent: decoded
            # whole, its length says where the kept last seconds start.
            whole = await self._decode(
                bytes(parts["context_chunk"]), "context", last_s=None if grid is not None else CONTEXT_S
            )
            keep = int(CONTEXT_S * self.engine.sample_rate)
            if grid is not None and whole.shape[-1] > keep:
                grid = grid.shifted((whole.shape[-1] - keep) / self.engine.sample_rate)
                whole = whole[:, -keep:]
            before = whole
        return clip, before, grid

    async def _decode(self, data: bytes, what: str, last_s: float | None = None) -> np.ndarray:
        try:
            audio = await asyncio.to_thread(
                decode, data, self.engine.sample_rate, self.engine.channels, last_s
            )
        except InvalidArgument as error:
            raise InvalidArgument(f"the {what} can't be read: {error}") from None
        if audio.shape[-1] == 0:
            raise InvalidArgument(f"the {what} holds no audio")
        return audio


__all__ = ["AnalysisServicer"]
