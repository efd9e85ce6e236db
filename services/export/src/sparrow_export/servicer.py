"""ExportService over gRPC: setup and clips in, progress, info and the file out."""

from __future__ import annotations

import logging
import time
from contextlib import aclosing

from sparrow.v1 import common_pb2, export_pb2, export_pb2_grpc

from sparrow_common.audio import chunks_in_thread, read_chunks
from sparrow_common.errors import InvalidArgument
from sparrow_export.domain import RenderFormat, RenderJob, Rendered, check_clips, check_names, check_setup
from sparrow_export.render import render

log = logging.getLogger(__name__)

_FORMATS = {
    export_pb2.RENDER_FORMAT_WAV: RenderFormat.WAV,
    export_pb2.RENDER_FORMAT_MP3: RenderFormat.MP3,
    export_pb2.RENDER_FORMAT_FLAC: RenderFormat.FLAC,
}


def _size(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _info(rendered: Rendered) -> common_pb2.AudioInfo:
    return common_pb2.AudioInfo(
        format=rendered.format.value,
        content_type=rendered.format.content_type,
        sample_rate=rendered.sample_rate,
        channels=rendered.channels,
        duration_s=rendered.duration_s,
        size_bytes=rendered.size_bytes,
    )


class ExportServicer(export_pb2_grpc.ExportServiceServicer):
    def __init__(self, max_input_bytes: int):
        self.max_input_bytes = max_input_bytes

    async def Render(self, request_iterator, context):
        job = await self._read_request(request_iterator)
        started = time.monotonic()
        # The file lives until the render resumes: it is sent from inside the loop.
        async with aclosing(render(job)) as updates:
            async for update in updates:
                if not isinstance(update, Rendered):
                    progress = common_pb2.Progress(step=update.done, total=update.total)
                    yield export_pb2.RenderResponse(progress=progress)
                    continue
                log.info(
                    "rendered %d clip(s) to %.1f s of %s (%d bytes) in %.2f s",
                    len(job.clips), update.duration_s, update.format.value, update.size_bytes,
                    time.monotonic() - started,
                )
                yield export_pb2.RenderResponse(info=_info(update))
                async for data in chunks_in_thread(read_chunks(update.path)):
                    yield export_pb2.RenderResponse(chunk=common_pb2.AudioChunk(data=data))

    async def _read_request(self, request_iterator) -> RenderJob:
        """Read the whole stream, then judge it: a status raised while the caller is
        still sending reaches it as a broken stream (INTERNAL), not as our words."""
        first = await anext(aiter(request_iterator), None)
        problem: str | None = None
        if first is None or first.WhichOneof("part") != "setup":
            problem = "the first message must be the setup (format, clip count, crossfade, normalize)"
        clips: dict[int, bytearray] = {}
        received = 0
        last = -1
        async for message in request_iterator:
            if problem is not None:
                continue  # drain, so the caller reads our status
            if message.WhichOneof("part") != "clip_chunk":
                problem = "only clip chunks may follow the setup"
                continue
            chunk = message.clip_chunk
            if chunk.clip < last or chunk.clip < 0:
                problem = (
                    f"clips must be sent in order, first to last: clip index {chunk.clip} "
                    f"came after {last}"
                )
                continue
            last = chunk.clip
            received += len(chunk.data)
            if received > self.max_input_bytes:
                problem = (
                    f"the clips add up to more than {_size(self.max_input_bytes)}, the most one "
                    "export takes; export a shorter spine or send compressed clips"
                )
                clips.clear()
                continue
            clips.setdefault(chunk.clip, bytearray()).extend(chunk.data)
        if problem is not None:
            raise InvalidArgument(problem)
        setup = first.setup
        format = _FORMATS.get(setup.format)
        check_setup(format, setup.clip_count, setup.crossfade_ms)
        check_names(setup.clip_count, list(setup.clip_names))
        check_clips(setup.clip_count, {index: len(data) for index, data in clips.items()})
        return RenderJob(
            format=format,
            # popped as copied, so the request's bytes are never all held twice
            clips=tuple(bytes(clips.pop(index)) for index in range(setup.clip_count)),
            crossfade_ms=setup.crossfade_ms,
            normalize=setup.normalize,
            clip_names=tuple(setup.clip_names),
            match_parts=setup.match_parts,
        )

