"""What the export service's tests share: a server to call and a way to read its answer."""

from __future__ import annotations

import grpc
import pytest
from sparrow.v1 import export_pb2_grpc

from sparrow_export.config import Settings
from sparrow_export.server import build_server


@pytest.fixture
async def stub():
    """An ExportService stub on an in-process server."""
    server = await build_server(Settings(host="127.0.0.1", port=0))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}")
    yield export_pb2_grpc.ExportServiceStub(channel)
    await channel.close()
    await server.close()


async def _render(stub, messages):
    """(progress steps, info, the file's bytes) of one Render call."""
    progress, info, data = [], None, bytearray()
    call = stub.Render(messages, timeout=60)
    while (reply := await call.read()) is not grpc.aio.EOF:
        kind = reply.WhichOneof("part")
        if kind == "progress":
            progress.append((reply.progress.step, reply.progress.total))
        elif kind == "info":
            assert not data, "info comes before the file"
            info = reply.info
        else:
            data.extend(reply.chunk.data)
    return progress, info, bytes(data)


@pytest.fixture
def render():
    """render(stub, messages) -> (progress steps, info, the file's bytes)."""
    return _render
