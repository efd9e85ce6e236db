"""Rendering the spine: its clips (and, for a stems export, each clip's stems)
stream to ExportService.Render and the file streams back to the caller."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import PurePath

import grpc
from sparrow.v1 import chain_pb2, common_pb2, export_pb2, export_pb2_grpc

from sparrow_chain.blobs import BlobStore
from sparrow_chain.config import Settings
from sparrow_chain.domain import Node, StemSet
from sparrow_chain.glue import Glue
from sparrow_common import request_id
from sparrow_common.audio import chunks_in_thread, split
from sparrow_common.channels import Requests, its_error_raised, open_channel
from sparrow_common.errors import Conflict, InvalidArgument, NotFound, from_downstream

log = logging.getLogger(__name__)

_FORMATS = {
    chain_pb2.EXPORT_FORMAT_WAV: export_pb2.RENDER_FORMAT_WAV,
    chain_pb2.EXPORT_FORMAT_MP3: export_pb2.RENDER_FORMAT_MP3,
    chain_pb2.EXPORT_FORMAT_FLAC: export_pb2.RENDER_FORMAT_FLAC,
}
MAX_CROSSFADE_MS = 2000


def part_name(node: Node, index: int) -> str:
    """What a marker at the part's start says: the uploaded file's name for the
    root, "Part N" for a take, with its prompt when it had one, then its grid as
    used (corrections included): "Part 2: prompt · 120 bpm 4/4 · A minor"."""
    if node.is_root:
        name = PurePath(node.filename).stem or "Your clip"
    else:
        prompt = node.recipe.prompt.strip() if node.recipe else ""
        name = f"Part {index + 1}: {prompt}" if prompt else f"Part {index + 1}"
    heard = node.grid
    grid = heard.describe() if heard is not None else ""
    # The grid is kept whole: a long name gives way to it.
    if grid:
        return f"{name[: 200 - len(grid) - 3]} · {grid}"
    return name[:200]


class Exporter:
    """One long-lived channel to the export workers."""

    def __init__(self, blobs: BlobStore, settings: Settings):
        self.blobs = blobs
        self.settings = settings
        self.channel = open_channel(settings.export_addr)
        self.stub = export_pb2_grpc.ExportServiceStub(self.channel)

    @staticmethod
    def check(request: chain_pb2.ExportChainRequest) -> None:
        if request.format not in _FORMATS:
            raise InvalidArgument("format must be wav, mp3 or flac")
        if not 0 <= request.crossfade_ms <= MAX_CROSSFADE_MS:
            raise InvalidArgument(f"crossfade_ms must be between 0 and {MAX_CROSSFADE_MS}")

    async def render(
        self, spine: list[Node], request: chain_pb2.ExportChainRequest, stems: list[StemSet] | None = None,
        loop: tuple[float, float] | None = None, glue: Glue | None = None,
    ) -> AsyncIterator[chain_pb2.ExportChainResponse]:
        """Progress, the file's info, then its bytes: one file of the spine, or
        with `stems` (each part's ready set, in spine order) one zip of the mix
        and every stem; with `loop` (spine seconds, snapped: loops.py), that
        stretch alone, made to repeat; with `glue` (glue.py), a clip after the
        spine's last part, its first `glue.seconds` heard."""
        self.check(request)
        names: list[str] = []
        if stems is not None:
            names = list(stems[0].files)
            for index, stem_set in enumerate(stems):
                if list(stem_set.files) != names:
                    raise Conflict(
                        f"part {index + 1}'s stems ({', '.join(stem_set.files)}) are not part 1's ({', '.join(names)})"
                    )
        requests = Requests(self._requests(spine, request, names, stems, loop, glue))
        call = self.stub.Render(requests, timeout=self.settings.export_deadline_s, metadata=request_id.metadata())
        try:
            with its_error_raised(requests):
                async for reply in call:
                    part = reply.WhichOneof("part")
                    if part == "progress":
                        yield chain_pb2.ExportChainResponse(progress=reply.progress)
                    elif part == "info":
                        yield chain_pb2.ExportChainResponse(info=reply.info)
                    elif part == "chunk":
                        yield chain_pb2.ExportChainResponse(chunk=reply.chunk)
        except grpc.aio.AioRpcError as error:
            raise from_downstream(error.code().name, error.details() or "", "export") from None

    async def _requests(
        self, spine: list[Node], request: chain_pb2.ExportChainRequest, names: list[str],
        stems: list[StemSet] | None, loop: tuple[float, float] | None = None, glue: Glue | None = None,
    ):
        more = [glue] if glue is not None else []
        yield export_pb2.RenderRequest(
            setup=export_pb2.RenderSetup(
                loop=common_pb2.Stretch(from_s=loop[0], until_s=loop[1]) if loop else None,
                format=_FORMATS[request.format],
                clip_count=len(spine) + len(more),
                crossfade_ms=request.crossfade_ms,
                normalize=request.normalize,
                match_parts=request.match_parts,
                clip_names=[part_name(node, index) for index, node in enumerate(spine)] + ["Glue"] * len(more),
                stems=names,
                without=list(request.without),
                # Each part from its in point to its out point (0: all of it), the
                # rest of a part after a replaced stretch crossfaded with the take
                # before it, centred on the rejoin.
                clip_ends_s=[node.out_s or 0.0 for node in spine] + [g.seconds for g in more],
                clip_starts_s=[node.in_s or 0.0 for node in spine] + [0.0] * len(more),
                clip_fades_s=[node.in_fade_s or 0.0 for node in spine] + [0.0] * len(more),
            )
        )
        # Clip by clip: its mix, then each of its stems in order.
        for index, node in enumerate(spine):
            files = [("", node.audio.key)]
            if stems is not None:
                files += [(name, stems[index].files[name].key) for name in names]
            for stem, key in files:
                try:
                    async for data in chunks_in_thread(self.blobs.read(key)):
                        yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, stem=stem, data=data))
                except (OSError, NotFound) as error:
                    log.warning("export: reading %s of part %d failed: %s", key, index + 1, error)
                    raise Conflict(_missing(node, index, stem)) from None
        for index, made in enumerate(more, start=len(spine)):
            for data in split(made.audio):
                yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, data=data))


def _missing(node: Node, index: int, stem: str) -> str:
    """What a musician reads when a part's audio (or one of its stems) can't be
    read from storage: which part, and what can be done."""
    name = part_name(node, index)
    if node.is_root:
        name = f"part 1, {name}"
    what = f"the {stem} stem of" if stem else "the audio of"
    return (
        f"{what} {name!r} is missing from the server's storage, so the chain can't be "
        "exported; take that part out of the spine and export again"
    )

    async def close(self) -> None:
        await self.channel.close()

