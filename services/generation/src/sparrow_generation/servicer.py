"""GenerationService over gRPC: context (and a melody) in, progress and takes out."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from sparrow.v1 import common_pb2, generation_pb2, generation_pb2_grpc
from sparrow_common.audio import decode, encode_wav, split
from sparrow_common.convert import capacity_to_pb, knobs_from_pb
from sparrow_common.errors import InvalidArgument
from sparrow_common.model import MELODY_CHECKPOINTS, ModelState
from sparrow_common.pace import Pace
from sparrow_common.params import MAX_TAKES
from sparrow_common.slots import Slots
from sparrow_common.work import Finished, run_blocking, wait_for_slot

from sparrow_generation.domain import Continuation
from sparrow_generation.engine import Engine
from sparrow_generation.metrics import (
    AUDIO_SECONDS, DECODING_STEPS, MAX_ROWS, ROWS_IN_FLIGHT, STEPS_PER_SECOND, TAKES,
)

log = logging.getLogger(__name__)

MAX_CONTEXT_BYTES = 64 * 1024 * 1024
MAX_MELODY_BYTES = MAX_CONTEXT_BYTES


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, engine: Engine, slots: Slots, state: ModelState, worker: str):
        self.engine = engine
        # Weighed in decoder rows: a call takes a row per take, two with guidance.
        self.slots = slots
        self.state = state
        self.worker = worker
        # One thread per call in flight: it hears the description, encodes the
        # prompt, waits while the engine's scheduler steps its takes with every
        # other call's, and decodes them; the model's work never runs on the
        # event loop. (The engine loads the model on its scheduler's thread.)
        self.executor = ThreadPoolExecutor(max_workers=max(slots.slots, 1), thread_name_prefix="call")
        # The gauges read the engine's own figures, as sparrow_common.metrics reads the slots.
        ROWS_IN_FLIGHT.set_function(lambda: self.engine.rows_in_flight)
        STEPS_PER_SECOND.set_function(lambda: self.engine.steps_per_second)
        DECODING_STEPS.read = lambda: self.engine.steps
        MAX_ROWS.set_function(lambda: self.slots.slots)

    async def GetCapacity(self, request, context):
        return generation_pb2.GetCapacityResponse(
            capacity=capacity_to_pb(
                self.worker, self.slots, self.engine.model_id, self.engine.device, self.state,
                supports_melody=self.engine.supports_melody,
                rows_in_flight=self.engine.rows_in_flight, steps_per_second=self.engine.steps_per_second,
            )
        )

    async def Generate(self, request_iterator, context):
        request = await self._read_request(request_iterator)
        self.state.check()
        if request.rows > self.slots.slots:
            raise InvalidArgument(
                f"{len(request.seeds)} take(s) need {request.rows} decoder rows (two per take with guidance); "
                f"this worker steps at most {self.slots.slots} (GENERATION_MAX_ROWS)"
            )
        async for position in wait_for_slot(self.slots, request.rows):
            yield generation_pb2.GenerateResponse(queued=common_pb2.Queued(position=position))
        async for response in self._run(request):
            yield response

    async def _read_request(self, request_iterator) -> Continuation:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "setup":
            raise InvalidArgument("the first message must be the setup")
        context, melody = bytearray(), bytearray()
        async for message in request_iterator:
            part = message.WhichOneof("part")
            if part == "context_chunk":
                context += message.context_chunk.data
            elif part == "melody_chunk":
                melody += message.melody_chunk.data
            else:
                raise InvalidArgument("only context and melody chunks may follow the setup")
            if len(context) > MAX_CONTEXT_BYTES:
                raise InvalidArgument("the context is too long")
            if len(melody) > MAX_MELODY_BYTES:
                raise InvalidArgument("the melody is too long")
        # Checked once the caller has sent everything, so it reads our status,
        # not a broken stream.
        setup = first.setup
        if not 1 <= len(setup.seeds) <= MAX_TAKES:
            raise InvalidArgument(f"ask for 1 to {MAX_TAKES} takes (one seed each)")
        knobs = knobs_from_pb(setup.knobs).validated()
        if setup.from_words and context:
            raise InvalidArgument("takes from words alone take no context")
        if not context and not setup.from_words:
            raise InvalidArgument("the context holds no audio")
        self.state.check()  # the model gives the sample rate to decode to
        if melody and not self.engine.supports_melody:
            raise InvalidArgument(
                f"the model '{self.engine.model_id}' can't be conditioned on a melody: "
                f"only a MusicGen melody checkpoint can ({MELODY_CHECKPOINTS})"
            )
        return Continuation(
            context=(
                np.zeros((self.engine.channels, 0), dtype=np.float32) if setup.from_words
                else await self._decode(context, "context")
            ),
            knobs=knobs,
            seeds=tuple(setup.seeds),
            melody=await self._decode(melody, "melody") if melody else None,
        )

    async def _decode(self, data: bytearray, what: str) -> np.ndarray:
        """(channels, samples) at the model's rate, as the engine hears it."""
        audio = await asyncio.to_thread(decode, bytes(data), self.engine.sample_rate, self.engine.channels)
        if audio.shape[-1] == 0:
            raise InvalidArgument(f"the {what} holds no audio")
        return audio

    async def _run(self, request: Continuation):
        started = time.monotonic()
        pace = Pace()
        work = run_blocking(self.executor, self.slots, self.engine.generate, request, weight=request.rows)
        async for update in work:
            if isinstance(update, Finished):
                takes = update.value
            else:
                eta_s = pace.eta_s(update.done, update.total) or 0.0
                yield generation_pb2.GenerateResponse(
                    progress=common_pb2.Progress(step=update.done, total=update.total, eta_s=eta_s)
                )
        elapsed = time.monotonic() - started
        log.info(
            "generated %d take(s) of %.1fs in %.1fs", len(takes), request.knobs.duration_s, elapsed
        )
        results = []
        for index, take in enumerate(takes):
            data = await asyncio.to_thread(encode_wav, take.audio, take.sample_rate)
            for chunk in split(data):
                yield generation_pb2.GenerateResponse(chunk=generation_pb2.TakeChunk(take=index, data=chunk))
            results.append(
                generation_pb2.TakeResult(
                    take=index, seed=take.seed, sample_rate=take.sample_rate,
                    channels=take.audio.shape[0], duration_s=take.duration_s,
                )
            )
        yield generation_pb2.GenerateResponse(
            done=generation_pb2.GenerateDone(takes=results, model=self.engine.model_id)
        )
        TAKES.inc(len(results))
        AUDIO_SECONDS.inc(sum(r.duration_s for r in results))


__all__ = ["GenerationServicer"]
