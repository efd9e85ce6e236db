"""Rendering the spine: its clips stream to ExportService.Render and the file
streams back to the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePath

import grpc
from sparrow.v1 import chain_pb2, export_pb2, export_pb2_grpc

from sparrow_chain.blobs import BlobStore
from sparrow_chain.config import Settings
from sparrow_chain.domain import Node
from sparrow_common import request_id
from sparrow_common.audio import chunks_in_thread
from sparrow_common.channels import open_channel
from sparrow_common.errors import InvalidArgument, from_downstream

_FORMATS = {
    chain_pb2.EXPORT_FORMAT_WAV: export_pb2.RENDER_FORMAT_WAV,
    chain_pb2.EXPORT_FORMAT_MP3: export_pb2.RENDER_FORMAT_MP3,
    chain_pb2.EXPORT_FORMAT_FLAC: export_pb2.RENDER_FORMAT_FLAC,
}
MAX_CROSSFADE_MS = 2000


def part_name(node: Node, index: int) -> str:
    """What a marker at the part's start says: the uploaded file's name for the
    root, "Part N" for a take, with its prompt when it had one."""
    if node.is_root:
        return PurePath(node.filename).stem[:200] or "Your clip"
    prompt = node.params.prompt.strip() if node.params else ""
    return f"Part {index + 1}: {prompt}"[:200] if prompt else f"Part {index + 1}"


class Exporter:
    """One long-lived channel to the export workers."""

    def __init__(self, blobs: BlobStore, settings: Settings):
        self.blobs = blobs
        self.settings = settings
        self.channel = open_channel(settings.export_addr)
        self.stub = export_pb2_grpc.ExportServiceStub(self.channel)

    async def render(
        self, spine: list[Node], request: chain_pb2.ExportChainRequest
    ) -> AsyncIterator[chain_pb2.ExportChainResponse]:
        """Progress, the file's info, then its bytes."""
        if request.format not in _FORMATS:
            raise InvalidArgument("format must be wav, mp3 or flac")
        if not 0 <= request.crossfade_ms <= MAX_CROSSFADE_MS:
            raise InvalidArgument(f"crossfade_ms must be between 0 and {MAX_CROSSFADE_MS}")
        call = self.stub.Render(
            self._requests(spine, request), timeout=self.settings.export_deadline_s, metadata=request_id.metadata()
        )
        try:
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

    async def _requests(self, spine: list[Node], request: chain_pb2.ExportChainRequest):
        yield export_pb2.RenderRequest(
            setup=export_pb2.RenderSetup(
                format=_FORMATS[request.format],
                clip_count=len(spine),
                crossfade_ms=request.crossfade_ms,
                normalize=request.normalize,
                match_parts=request.match_parts,
                clip_names=[part_name(node, index) for index, node in enumerate(spine)],
            )
        )
        for index, node in enumerate(spine):
            async for data in chunks_in_thread(self.blobs.read(node.audio.key)):
                yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, data=data))

    async def close(self) -> None:
        await self.channel.close()

