"""ExportService over gRPC: setup and clips in, progress, info and the file out."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing

from sparrow.v1 import common_pb2, export_pb2, export_pb2_grpc

from sparrow_common.audio import chunks_in_thread, read_chunks
from sparrow_common.errors import InvalidArgument
from sparrow_export.domain import (
    RenderFormat,
    RenderJob,
    Rendered,
    check_clips,
    check_ends,
    check_fades,
    check_loop,
    check_without,
    check_names,
    check_setup,
    check_starts,
    check_stem_clips,
    check_stems,
)
from sparrow_export.render import render, stems_summed

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
        format=rendered.container,
        content_type=rendered.content_type,
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
                    "rendered %d clip(s)%s to %.1f s of %s (%d bytes) in %.2f s",
                    len(job.clips), f" with {len(job.stems)} stem(s)" if job.stems else "", update.duration_s,
                    update.format.value, update.size_bytes, time.monotonic() - started,
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
        stems = list(first.setup.stems) if problem is None else []
        try:
            check_stems(stems)  # before their names judge the chunks
        except InvalidArgument as error:
            problem = str(error)
        # Each clip's tracks in the order they must come: its mix (""), then its stems.
        order = {stem: position for position, stem in enumerate(["", *stems])}
        clips: dict[tuple[int, str], bytearray] = {}
        received = 0
        last = (-1, 0)  # (clip, position in `order`) of the chunk before
        async for message in request_iterator:
            if problem is not None:
                continue  # drain, so the caller reads our status
            if message.WhichOneof("part") != "clip_chunk":
                problem = "only clip chunks may follow the setup"
                continue
            chunk = message.clip_chunk
            if chunk.clip < last[0] or chunk.clip < 0:
                problem = (
                    f"clips must be sent in order, first to last: clip index {chunk.clip} "
                    f"came after {last[0]}"
                )
                continue
            problem = _stem_out_of_place(chunk.stem, chunk.clip, last, order, (chunk.clip, "") in clips)
            if problem is not None:
                continue
            last = (chunk.clip, order[chunk.stem])
            received += len(chunk.data)
            if received > self.max_input_bytes:
                problem = (
                    f"the clips add up to more than {_size(self.max_input_bytes)}, the most one "
                    "export takes; export a shorter spine or send compressed clips"
                )
                clips.clear()
                continue
            clips.setdefault((chunk.clip, chunk.stem), bytearray()).extend(chunk.data)
        if problem is not None:
            raise InvalidArgument(problem)
        setup = first.setup
        format = _FORMATS.get(setup.format)
        check_setup(format, setup.clip_count, setup.crossfade_ms)
        check_names(setup.clip_count, list(setup.clip_names))
        check_ends(setup.clip_count, list(setup.clip_ends_s))
        check_starts(setup.clip_count, list(setup.clip_starts_s), list(setup.clip_ends_s))
        check_fades(setup.clip_count, list(setup.clip_fades_s))
        check_clips(setup.clip_count, {index: len(data) for (index, stem), data in clips.items() if not stem})
        check_stem_clips(setup.clip_count, stems, {key: len(data) for key, data in clips.items()})
        without = list(setup.without)
        check_without(stems, without)
        loop = (setup.loop.from_s, setup.loop.until_s) if setup.HasField("loop") else None
        check_loop(loop, [] if without else stems)

        def track(stem: str) -> tuple[bytes, ...]:
            # popped as copied, so the request's bytes are never all held twice
            return tuple(bytes(clips.pop((index, stem))) for index in range(setup.clip_count))

        if without:
            # Each clip's mix is the sum of its other stems: one file, no zip.
            kept = [stem for stem in stems if stem not in without]
            whole, parts = track(""), {stem: track(stem) for stem in stems}
            mixes = await asyncio.to_thread(
                lambda: tuple(
                    stems_summed(whole[index], [parts[stem][index] for stem in kept]) for index in range(setup.clip_count)
                )
            )
            stems, mix = [], mixes
        else:
            mix = track("")
        return RenderJob(
            format=format,
            clips=mix,
            crossfade_ms=setup.crossfade_ms,
            normalize=setup.normalize,
            clip_names=tuple(setup.clip_names),
            match_parts=setup.match_parts,
            stems=tuple(stems),
            stem_clips=tuple(track(stem) for stem in stems),
            clip_ends_s=tuple(setup.clip_ends_s),
            clip_starts_s=tuple(setup.clip_starts_s),
            clip_fades_s=tuple(setup.clip_fades_s),
            loop=loop,
        )


def _stem_out_of_place(
    stem: str, clip: int, last: tuple[int, int], order: dict[str, int], mix_sent: bool
) -> str | None:
    """Why a chunk of clip `clip`'s `stem` ("" its mix) can't come after a chunk
    of track `last` (clip, position in `order`), or None when it can: within a
    clip the mix comes first, then the stems in the setup's order."""
    stems = ", ".join(repr(name) for name in list(order)[1:])
    if stem not in order:
        if not stems:
            return f"a chunk of clip index {clip} names the stem {stem!r}, but the setup asked for no stems"
        return (
            f"a chunk of clip index {clip} names the stem {stem!r}, which is not among the setup's "
            f"stems ({stems})"
        )
    if stem and not mix_sent:
        return (
            f"the {stem!r} stem of clip index {clip} came before its mix: send each clip's mix, "
            f"then its stems in the setup's order ({stems})"
        )
    if clip == last[0] and order[stem] < last[1]:
        what = f"{stem!r} stem" if stem else "mix"
        return (
            f"the {what} of clip index {clip} came after its {list(order)[last[1]]!r} stem: send each clip's "
            f"mix, then its stems in the setup's order ({stems})"
        )
    return None

