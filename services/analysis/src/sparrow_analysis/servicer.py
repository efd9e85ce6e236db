"""AnalysisService over gRPC: a clip (the path it continues, the part it
replaces a stretch of) in, progress and its analysis (its seam, its rejoin)
out. Protobuf stays here and in convert.py."""

from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sparrow.v1 import analysis_pb2, analysis_pb2_grpc, common_pb2
from sparrow_common.audio import decode
from sparrow_common.convert import capacity_to_pb
from sparrow_common.errors import InvalidArgument
from sparrow_common.model import ModelState
from sparrow_common.slots import Slots
from sparrow_common.work import Finished, run_blocking, wait_for_slot

from sparrow_analysis.convert import (
    analysis_to_pb,
    path_grid_from_pb,
    rejoin_asked_from_pb,
    rejoin_to_pb,
    seam_to_pb,
)
from sparrow_analysis.domain import PathGrid, RejoinAsked
from sparrow_analysis.engine.listening import Listener
from sparrow_analysis.engine.rejoin import hear_and_rejoin
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
        clip, before, grid, part, asked = await self._read_request(request_iterator)
        self.state.check()
        async for position in wait_for_slot(self.slots):
            yield analysis_pb2.AnalyzeResponse(queued=common_pb2.Queued(position=position))
        work = (hear_and_rejoin, self.engine, clip, before, grid, part, asked)
        async for update in run_blocking(self.executor, self.slots, *work):
            if isinstance(update, Finished):
                heard, report, rejoined = update.value
                done = analysis_pb2.AnalyzeDone(analysis=analysis_to_pb(heard))
                if report is not None:
                    done.seam.CopyFrom(seam_to_pb(report))
                if rejoined is not None:
                    done.rejoin.CopyFrom(rejoin_to_pb(rejoined))
                yield analysis_pb2.AnalyzeResponse(done=done)
            else:
                yield analysis_pb2.AnalyzeResponse(
                    progress=common_pb2.Progress(step=update.done, total=update.total)
                )

    async def _read_request(
        self, request_iterator
    ) -> tuple[np.ndarray, np.ndarray | None, PathGrid | None, np.ndarray | None, RejoinAsked | None]:
        # Everything is read before anything is checked, so the caller reads our
        # status, not a broken stream.
        setup_seen, out_of_order, too_long, grid, asked = False, False, False, None, None
        parts = {"chunk": bytearray(), "context_chunk": bytearray(), "part_chunk": bytearray()}
        async for message in request_iterator:
            kind = message.WhichOneof("part")
            if kind == "setup" and not setup_seen and not any(parts.values()):
                setup_seen = True
                grid = path_grid_from_pb(message.setup)
                asked = rejoin_asked_from_pb(message.setup)
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
            raise InvalidArgument(
                "send the setup first, then only the clip's (and the context's, and the part's) chunks"
            )
        if too_long:
            raise InvalidArgument(f"the audio is over {MAX_CLIP_BYTES // 2**20} MiB")
        if not parts["chunk"]:
            raise InvalidArgument("the request holds no clip")
        if parts["part_chunk"] and asked is None:
            raise InvalidArgument(
                "the part's audio was sent without setup.rejoin: say where it should come back"
            )
        if asked is not None and not parts["part_chunk"]:
            raise InvalidArgument("setup.rejoin asks for a rejoin but no part audio was sent (part_chunk)")
        clip = await self._decode(bytes(parts["chunk"]), "clip")
        self._check_length(clip, "clip")
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
        part = None
        if asked is not None:
            part = await self._decode(bytes(parts["part_chunk"]), "part")
            self._check_length(part, "part")
            _check_asked(asked, part.shape[-1] / self.engine.sample_rate)
        return clip, before, grid, part, asked

    def _check_length(self, audio: np.ndarray, what: str) -> None:
        seconds = audio.shape[-1] / self.engine.sample_rate
        if seconds > self.max_duration_s:
            raise InvalidArgument(
                f"the {what} is {seconds / 60:.1f} minutes long; "
                f"the analysis worker takes up to {self.max_duration_s / 60:g} minutes"
            )

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


def _check_asked(asked: RejoinAsked, part_s: float) -> None:
    """Refuse a rejoin asked where no part plays: before the take's first sample,
    past the end of the part audio sent, or at no number at all."""
    if not math.isfinite(asked.asked_s):
        raise InvalidArgument(f"setup.rejoin.asked_s is {asked.asked_s}: say a time in seconds")
    if asked.asked_s < 0:
        raise InvalidArgument(
            f"setup.rejoin.asked_s is {asked.asked_s:g} s: it is on the part audio's clock, "
            "the take's first sample at 0, so it can't be negative"
        )
    if asked.asked_s > part_s:
        raise InvalidArgument(
            f"setup.rejoin.asked_s is {asked.asked_s:g} s, "
            f"past the end of the part audio sent ({part_s:.2f} s)"
        )
    grid = [*asked.downbeats_s, *asked.beats_s, *([asked.tempo_bpm] if asked.tempo_bpm else [])]
    if not all(math.isfinite(t) for t in grid):
        raise InvalidArgument("setup.rejoin's downbeats, beats and tempo must be numbers")


__all__ = ["AnalysisServicer"]
