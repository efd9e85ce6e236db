"""ChainService over a real in-process grpc.aio server on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import re

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sparrow.v1 import chain_pb2, chain_pb2_grpc, common_pb2

from sparrow_chain.config import Settings
from sparrow_chain.server import build_server
from sparrow_chain.store.tables import chains, nodes
from sparrow_common.testing.chain import upload
from sparrow_common.testing.clips import make_clip
from sqlalchemy import func, select


@pytest.fixture
async def server(tmp_path, migrated_url):
    settings = Settings(
        host="127.0.0.1", port=0, database_url=migrated_url, blob_dir=str(tmp_path / "blobs"),
        max_upload_bytes=2_000_000, watch_poll_s=0.2, dispatch_slots=0,  # jobs stay queued here
    )
    running = await build_server(settings)
    yield running
    await running.close()


@pytest.fixture
async def stub(server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
        yield chain_pb2_grpc.ChainServiceStub(channel)


def blob_files(server) -> list[str]:
    return [k for k, _ in server.blobs.keys()]


def row_counts(server) -> tuple[int, int]:
    with server.store.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(chains)).scalar(),
            conn.execute(select(func.count()).select_from(nodes)).scalar(),
        )


async def test_health_is_serving(server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="sparrow.v1.ChainService"), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
        services = await asyncio.to_thread(lambda: ProtoReflectionDescriptorDatabase(channel).get_services())
    assert "sparrow.v1.ChainService" in services and "grpc.health.v1.Health" in services


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg", "m4a", "aiff"])
async def test_create_chain_keeps_the_file_as_received(server, stub, fmt):
    data = make_clip(fmt, seconds=1.5, channels=2)
    reply = await stub.CreateChain(upload(data, filename=f"riff.{fmt}"), timeout=30)
    assert reply.root.audio.channels == 2
    assert reply.root.audio.duration_s == pytest.approx(1.5, abs=0.06)
    assert reply.root.filename == f"riff.{fmt}"
    received = b""
    async for part in stub.ReadNodeAudio(chain_pb2.ReadNodeAudioRequest(node_id=reply.root.id), timeout=10):
        if part.WhichOneof("part") == "chunk":
            received += part.chunk.data
    assert received == data


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"this is a text file, not a song " * 50, "could not be decoded"),
        (make_clip("wav", seconds=2.0)[:40_000], "truncated"),
        (make_clip("flac", seconds=2.0)[:9_000], "decoded|truncated"),
        (make_clip("wav", seconds=0.5), "0.50 s long, and a chain starts from at least 1 s"),
    ],
    ids=["empty", "text", "truncated-wav", "truncated-flac", "a-blip"],
)
async def test_bad_uploads_are_refused_with_a_reason_and_leave_nothing(server, stub, data, reason):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateChain(upload(data, filename="song.wav"), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details()
    assert re.search(reason, caught.value.details())
    assert blob_files(server) == [] and row_counts(server) == (0, 0)


async def up_to_the_limit_then_waiting(data: bytes, limit: int):
    """The upload's messages until one crosses `limit`, then none: the client
    writes nothing once the service has read enough to refuse it. A write
    racing the refusal loses its status to INTERNAL in grpcio's asyncio client
    (grpc/grpc#36066); the gateway, whose own limit comes first, never races."""
    sent = 0
    for message in upload(data):
        yield message
        sent += len(message.chunk.data)
        if sent > limit:
            await asyncio.Event().wait()  # until the call ends


async def test_upload_over_the_limit_is_out_of_range(server, stub):
    data = make_clip("wav", seconds=40.0)  # 2.5 MB against a 2 MB limit
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateChain(up_to_the_limit_then_waiting(data, 2_000_000), timeout=30)
    assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert blob_files(server) == [] and row_counts(server) == (0, 0)


async def test_a_failure_between_blob_and_row_leaves_neither(server, stub, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(server.store, "create_chain", broken)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateChain(upload(make_clip("wav")), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "database went away" not in caught.value.details()  # no internals leak
    assert blob_files(server) == [] and row_counts(server) == (0, 0)


async def test_chunks_before_the_header_are_refused(stub):
    def headless():
        yield chain_pb2.CreateChainRequest(chunk=common_pb2.AudioChunk(data=b"RIFF"))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateChain(headless(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_and_malformed_ids(stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetChain(chain_pb2.GetChainRequest(chain_id="9b2f4c55-8d4e-4c1e-9a7e-0d5b6c1f2a3b"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetNode(chain_pb2.GetNodeRequest(node_id="../../etc/passwd"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid id" in caught.value.details()


async def test_read_audio_by_range(stub):
    data = make_clip("wav")
    root = (await stub.CreateChain(upload(data), timeout=30)).root
    parts = [
        p async for p in stub.ReadNodeAudio(
            chain_pb2.ReadNodeAudioRequest(node_id=root.id, offset=1000, length=70_000), timeout=10
        )
    ]
    assert parts[0].info.size_bytes == len(data)
    assert b"".join(p.chunk.data for p in parts[1:]) == data[1000:71_000]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.ReadNodeAudio(chain_pb2.ReadNodeAudioRequest(node_id=root.id, offset=-5), timeout=10):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_take_commit_discard_over_grpc(server, stub):
    created = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
    (take,) = (await stub.CreateTakes(
        chain_pb2.CreateTakesRequest(
            parent_id=created.root.id, knobs=common_pb2.Knobs(prompt="lofi", duration_s=4), count=1
        ),
        timeout=5,
    )).nodes
    assert take.status == chain_pb2.NODE_STATUS_PENDING
    assert take.knobs.prompt == "lofi" and take.knobs.duration_s == 4
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CommitNode(chain_pb2.CommitNodeRequest(node_id=take.id), timeout=5)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.DiscardNode(chain_pb2.DiscardNodeRequest(node_id=created.root.id), timeout=5)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    discarded = await stub.DiscardNode(chain_pb2.DiscardNodeRequest(node_id=take.id), timeout=5)
    # In the bin: still there, saying since when, and off the chain.
    binned = (await stub.GetNode(chain_pb2.GetNodeRequest(node_id=take.id), timeout=5)).node
    assert binned.HasField("bin_time")
    listed = await stub.GetChain(chain_pb2.GetChainRequest(chain_id=created.chain.id), timeout=5)
    assert [n.id for n in listed.nodes] == [created.root.id]
    assert listed.history.undo.kind == chain_pb2.MOVE_KIND_DISCARD and listed.history == discarded.history
    emptied = await stub.EmptyBin(chain_pb2.EmptyBinRequest(chain_id=created.chain.id), timeout=5)
    # The discard went with what it discarded; its history event says so too.
    assert not emptied.history.HasField("undo") and emptied.history.seq > discarded.history.seq
    async for reply in stub.WatchChain(
        chain_pb2.WatchChainRequest(chain_id=created.chain.id, after_seq=emptied.history.seq - 1), timeout=5
    ):
        assert reply.event.kind == chain_pb2.EVENT_KIND_HISTORY_CHANGED and reply.event.history == emptied.history
        break
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetNode(chain_pb2.GetNodeRequest(node_id=take.id), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_takes_keep_their_recipe_beside_the_knobs(stub):
    created = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
    (take,) = (await stub.CreateTakes(
        chain_pb2.CreateTakesRequest(
            parent_id=created.root.id, knobs=common_pb2.Knobs(prompt="brushes", energy=common_pb2.ENERGY_HIGH),
            align=chain_pb2.ALIGN_BARS, prompt_source="drums", count=1,
        ),
        timeout=5,
    )).nodes
    assert (take.knobs.prompt, take.knobs.energy) == ("brushes", common_pb2.ENERGY_HIGH)
    assert (take.align, take.prompt_source) == (chain_pb2.ALIGN_BARS, "drums")
    (plain,) = (await stub.CreateTakes(chain_pb2.CreateTakesRequest(parent_id=created.root.id, count=1), timeout=5)).nodes
    assert (plain.align, plain.prompt_source) == (chain_pb2.ALIGN_SECONDS, "mix")  # unset: as asked, the mix
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateTakes(
            chain_pb2.CreateTakesRequest(parent_id=created.root.id, prompt_source="Drums!", count=1), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details().startswith("prompt_source")


async def test_watch_resumes_after_a_seq_and_sees_new_events(stub):
    created = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
    chain_id = created.chain.id
    await stub.CreateTakes(
        chain_pb2.CreateTakesRequest(parent_id=created.root.id, count=2), timeout=5
    )
    call = stub.WatchChain(chain_pb2.WatchChainRequest(chain_id=chain_id, after_seq=1), timeout=10)
    seen = [(await call.read()).event for _ in range(2)]
    assert [e.seq for e in seen] == [2, 3]
    assert {e.kind for e in seen} == {chain_pb2.EVENT_KIND_NODE_CREATED}
    # a write after the watcher caught up arrives without waiting for a poll
    await stub.CreateTakes(chain_pb2.CreateTakesRequest(parent_id=created.root.id, count=1), timeout=5)
    live = await asyncio.wait_for(call.read(), timeout=5)
    assert live.event.seq == 4
    await stub.DeleteChain(chain_pb2.DeleteChainRequest(chain_id=chain_id), timeout=5)
    last = await asyncio.wait_for(call.read(), timeout=5)
    assert last.event.kind == chain_pb2.EVENT_KIND_CHAIN_DELETED
    call.cancel()


async def test_chains_belong_to_the_user_in_metadata(stub):
    ann = (("x-sparrow-user", "ann"),)
    bob = (("x-sparrow-user", "bob"),)
    created = await stub.CreateChain(upload(make_clip("wav")), metadata=ann, timeout=30)
    assert created.chain.owner_id == "ann"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetChain(chain_pb2.GetChainRequest(chain_id=created.chain.id), metadata=bob, timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await stub.ListChains(chain_pb2.ListChainsRequest(), metadata=bob, timeout=5)
    assert list(listed.chains) == []


async def test_a_grid_set_over_grpc_comes_back_on_the_node_and_undoes(stub):
    created = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
    root = created.root.id
    assert not created.root.HasField("grid")  # nothing heard (analysis off), nothing said
    assert created.root.note.startswith("a 2.0 s clip: takes will hear all of it")
    said = chain_pb2.GridCorrection(tempo_bpm=120.0, time_signature="6/8", key="D minor")
    reply = await stub.SetGrid(chain_pb2.SetGridRequest(node_id=root, correction=said), timeout=10)
    grid = reply.node.grid
    assert (grid.tempo_bpm, grid.meter, grid.time_signature, grid.key) == (120.0, 2, "6/8", "D minor")
    assert list(grid.beats_s) == [0.0, 0.5, 1.0, 1.5] and list(grid.downbeats_s) == [0.0, 1.0]
    assert list(grid.corrected) == ["tempo", "time_signature", "key"]
    assert reply.history.undo.kind == chain_pb2.MOVE_KIND_REGRID and reply.node.grid_correction == said
    node = (await stub.GetNode(chain_pb2.GetNodeRequest(node_id=root), timeout=10)).node
    assert node.grid_correction == said and not node.grid_correction.HasField("bar_one_s")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        bad = chain_pb2.GridCorrection(bar_one_s=2.5)
        await stub.SetGrid(chain_pb2.SetGridRequest(node_id=root, correction=bad), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "bar_one_s must be within the part: 0 to 2.00 s"
    await stub.Undo(chain_pb2.UndoRequest(chain_id=created.chain.id), timeout=10)
    node = (await stub.GetNode(chain_pb2.GetNodeRequest(node_id=root), timeout=10)).node
    assert not node.HasField("grid") and not node.HasField("grid_correction")
