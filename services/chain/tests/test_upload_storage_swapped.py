"""An upload whose storage breaks while it is being received (issue 29's load
run: the uploads folder swapped for a file mid-upload) ends with the storage's
own error in words, never with the failed removal of its half-received file."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sparrow.v1 import chain_pb2_grpc

from sparrow_chain.config import Settings
from sparrow_chain.server import build_server
from sparrow_common.testing.chain import upload
from sparrow_common.testing.clips import make_clip


@pytest.fixture
async def server(tmp_path, migrated_url):
    settings = Settings(
        host="127.0.0.1", port=0, database_url=migrated_url, blob_dir=str(tmp_path / "blobs"),
        dispatch_slots=0,
    )
    running = await build_server(settings)
    yield running
    await running.close()


async def test_an_upload_whose_folder_goes_midway_is_unavailable_in_words(server):
    mine = server.blobs._mine  # the folder this instance receives uploads into
    kept = mine.with_name(mine.name + ".kept")

    async def broken_midway():
        for number, request in enumerate(upload(make_clip("wav", seconds=3.0))):
            if number == 2:  # the header and a chunk are sent: once the file is being
                # received (the stream is sent ahead of the server's reading), the folder goes
                while not [p for p in mine.iterdir() if not p.name.startswith(".")]:
                    await asyncio.sleep(0.01)
                mine.rename(kept)
                mine.write_bytes(b"")
            yield request

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await chain_pb2_grpc.ChainServiceStub(channel).CreateChain(broken_midway(), timeout=30)
    finally:
        mine.unlink(missing_ok=True)
        kept.rename(mine)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, (refused.value.code(), refused.value.details())
    assert "can't store audio" in refused.value.details()
    assert str(mine.parent) not in refused.value.details()
