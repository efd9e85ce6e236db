"""StemsService over gRPC: a mix in, progress and the model's stems out."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from sparrow.v1 import common_pb2, stems_pb2, stems_pb2_grpc
from sparrow_common.audio import decode, encode_wav, split
from sparrow_common.convert import capacity_to_pb
from sparrow_common.errors import Conflict, InvalidArgument
from sparrow_common.model import ModelState
from sparrow_common.slots import Slots
from sparrow_common.work import Finished, run_blocking, wait_for_slot

from sparrow_stems.domain import Mix
from sparrow_stems.engine import Engine, ModelUnavailable

log = logging.getLogger(__name__)

# Above the gateway's 100 MB upload limit: any clip a musician could upload.
MAX_MIX_BYTES = 128 * 1024 * 1024
OUTPUT_FORMATS = ("", "wav")


class StemsServicer(stems_pb2_grpc.StemsServiceServicer):
    def __init__(self, engine: Engine, slots: Slots, state: ModelState, worker: str, max_duration_s: float):
        self.engine = engine
        self.slots = slots
        self.state = state
        self.worker = worker
        self.max_duration_s = max_duration_s
        # One thread per slot: the model's blocking work never runs on the event loop.
        self.executor = ThreadPoolExecutor(max_workers=slots.slots, thread_name_prefix="engine")

    async def GetCapacity(self, request, context):
        loaded = self.engine.stems_of()
        return stems_pb2.StemsServiceGetCapacityResponse(
            capacity=capacity_to_pb(
                self.worker, self.slots, self.engine.model_id, self.engine.device, self.state,
                supports_melody=False,
            ),
            models=[
                stems_pb2.StemModel(name=name, stems=loaded.get(name, []), reason=self.engine.unavailable.get(name, ""))
                for name in self.engine.model_ids
            ],
        )

    async def Separate(self, request_iterator, context):
        mix, model = await self._read_request(request_iterator)
        self.state.check()
        async for position in wait_for_slot(self.slots):
            yield stems_pb2.SeparateResponse(queued=common_pb2.Queued(position=position))
        # Only _run holds the mix from here, so it can let go of it once split.
        run = self._run(mix, model)
        del mix
        async for response in run:
            yield response

    async def _read_request(self, request_iterator) -> tuple[Mix, str]:
        # Everything is read before anything is checked, so the caller reads our
        # status, not a broken stream.
        setup = None
        out_of_order = False
        too_long = False
        received = bytearray()
        async for message in request_iterator:
            kind = message.WhichOneof("part")
            if kind == "setup" and setup is None and not received:
                setup = message.setup
            elif kind == "chunk" and setup is not None:
                if len(received) + len(message.chunk.data) > MAX_MIX_BYTES:
                    too_long = True
                    received.clear()
                if not too_long:
                    received += message.chunk.data
            else:
                out_of_order = True
        if setup is None or out_of_order:
            raise InvalidArgument("send the setup first, then only the audio's chunks")
        if setup.output_format not in OUTPUT_FORMATS:
            raise InvalidArgument(f"output_format '{setup.output_format}' is not supported; stems come as wav")
        if setup.model and setup.model not in self.engine.model_ids:
            raise InvalidArgument(
                f"this worker offers the stems models {', '.join(self.engine.model_ids)}, not '{setup.model}'"
            )
        if too_long:
            raise InvalidArgument(f"the audio file is over {MAX_MIX_BYTES // 2**20} MiB")
        if not received:
            raise InvalidArgument("the request holds no audio")
        self.state.check()  # the model gives the sample rate to decode to
        model = setup.model or self.engine.model_id
        try:
            sample_rate, channels = self.engine.format_of(model)
        except ModelUnavailable as error:  # an offered model beside the default that could not load
            raise Conflict(f"stems model '{model}' is unavailable: {error}") from None
        data = bytes(received)
        del received
        audio = await asyncio.to_thread(decode, data, sample_rate, channels)
        mix = Mix(audio=audio, sample_rate=sample_rate)
        if audio.shape[-1] == 0:
            raise InvalidArgument("the file holds no audio")
        if mix.duration_s > self.max_duration_s:
            raise InvalidArgument(
                f"the audio is {mix.duration_s / 60:.1f} minutes long; the stems worker takes up to "
                f"{self.max_duration_s / 60:g} minutes"
            )
        return mix, model

    async def _run(self, mix: Mix, model: str):
        started = time.monotonic()
        separate = functools.partial(self.engine.separate, model_id=model)
        async for update in run_blocking(self.executor, self.slots, separate, mix):
            if isinstance(update, Finished):
                stems = update.value
            else:
                yield stems_pb2.SeparateResponse(progress=common_pb2.Progress(step=update.done, total=update.total))
        log.info("separated %.1fs of audio with %s in %.1fs", mix.duration_s, model, time.monotonic() - started)
        del mix
        # One stem encoded at a time: a long song's WAVs never sit in memory together.
        for name, audio in stems.audio.items():
            data = await asyncio.to_thread(encode_wav, audio, stems.sample_rate)
            for chunk in split(data):
                yield stems_pb2.SeparateResponse(chunk=stems_pb2.StemChunk(stem=name, data=chunk))
            del data
        yield stems_pb2.SeparateResponse(
            done=stems_pb2.SeparateDone(
                stems=list(stems.audio), sample_rate=stems.sample_rate,
                duration_s=stems.duration_s, model=stems.model,
            )
        )

