"""Takes conditioned on a melody, and the time left while generating: the store
on SQLite and PostgreSQL, and ChainService with and without a generation worker."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sparrow.v1 import chain_pb2, chain_pb2_grpc, common_pb2

from sparrow_chain.config import Settings
from sparrow_chain.domain import EventKind, Melody, NodeStatus, Recipe
from sparrow_chain.server import build_server
from sparrow_chain.store import JobQueue, StemStore
from sparrow_common.errors import Conflict, InvalidArgument
from sparrow_common.processes import free_port
from sparrow_common.testing.chain import upload
from sparrow_common.testing.clips import make_clip


def separate(store, build, node, content_hash: str = "c" * 64) -> dict:
    """Give `node` ready stems, as a stems job would; returns them by name."""
    stems = StemStore(store.engine)
    stems.remember_hash(node.id, content_hash)
    stems.request(node, content_hash, "htdemucs")
    queue = JobQueue(store.engine)
    job = queue.claim("me", 30, kinds=("stems",))
    files = {
        name: build.audio(f"stems/{content_hash}/{name}.wav", seconds=1.5) for name in ("drums", "bass", "other", "vocals")
    }
    assert queue.finish(job.id, "me", files) == []  # every stem stored
    return files


# -- the store ----------------------------------------------------------------

def test_takes_keep_their_melody_and_the_job_finds_its_audio(store, build):
    chain, root = build.chain()
    part = build.takes(root)[0]
    vocals = separate(store, build, part)["vocals"]
    of_root = store.create_takes("ann", root.id, Recipe(), 2, Melody(root.id))
    of_stem = store.create_takes("ann", part.id, Recipe(), 1, Melody(part.id, "vocals"))
    plain = store.create_takes("ann", root.id, Recipe(), 1)

    assert [n.melody for n in of_root] == [Melody(root.id, None)] * 2
    assert store.get_node("ann", of_stem[0].id).melody == Melody(part.id, "vocals")
    assert store.get_node("ann", plain[0].id).melody is None
    by_id = {n.id: n for n in store.get_chain("ann", chain.id)[1]}
    assert by_id[of_root[1].id].melody == Melody(root.id)
    # The event log's copy of the node says the same.
    created = [e.node for e in store.events_after(chain.id, 0) if e.kind is EventKind.NODE_CREATED]
    assert [n.melody for n in created[-4:]] == [Melody(root.id), Melody(root.id), Melody(part.id, "vocals"), None]

    queue = JobQueue(store.engine)
    claimed = {}
    while job := queue.claim("me", 30):  # the builder's own jobs are still queued too
        claimed[job.nodes[0].id] = job
    of_root_job, of_stem_job = claimed[of_root[0].id], claimed[of_stem[0].id]
    assert [n.melody for n in of_root_job.nodes] == [Melody(root.id)] * 2
    assert of_stem_job.nodes[0].melody == Melody(part.id, "vocals")
    assert queue.takes.melody_audio(of_root_job.nodes[0].melody) == root.audio
    assert queue.takes.melody_audio(of_stem_job.nodes[0].melody) == vocals
    store.discard("ann", part.id)
    assert queue.takes.melody_audio(Melody(part.id, "vocals")) == vocals  # in the bin, its audio kept
    store.empty_bin("ann", part.chain_id)
    assert queue.takes.melody_audio(Melody(part.id, "vocals")) is None  # gone since: the job says so


def test_a_melody_that_cannot_be_heard_is_refused_and_nothing_is_written(store, build):
    chain, root = build.chain()
    _, elsewhere = build.chain()
    pending = build.takes(root, ready=False)[0]
    unsplit = build.takes(root)[0]
    refused = [
        (Melody(elsewhere.id), InvalidArgument, "of this chain"),
        (Melody(root.id, "Kazoo!"), InvalidArgument, "must name a stem"),
        (Melody(pending.id), Conflict, "no audio yet"),
        (Melody(unsplit.id, "drums"), Conflict, "drums stem of node .* is not ready"),
    ]
    before = len(store.get_chain("ann", chain.id)[1])
    for melody, error, words in refused:
        with pytest.raises(error, match=words):
            store.create_takes("ann", root.id, Recipe(), 1, melody)
    assert len(store.get_chain("ann", chain.id)[1]) == before


def test_the_time_left_goes_with_progress_and_is_cleared_when_the_take_ends(store, build):
    chain, root = build.chain()
    done, failed = build.takes(root, ready=False), build.takes(root, ready=False)
    queue = JobQueue(store.engine)
    first, second = queue.claim("me", 30), queue.claim("me", 30)
    assert (first.nodes[0].id, second.nodes[0].id) == (done[0].id, failed[0].id)
    (node,) = queue.progress(first.id, "me", 0.4, 12.5)
    assert node.eta_s == 12.5 and store.get_node("ann", done[0].id).eta_s == 12.5
    assert store.events_after(chain.id, 0)[-1].node.eta_s == 12.5
    assert queue.progress(first.id, "me", 0.5, None)[0].eta_s is None  # the worker can't tell yet
    queue.progress(first.id, "me", 0.6, 8.0)
    queue.progress(second.id, "me", 0.6, 8.0)
    queue.finish(first.id, "me", {done[0].id: build.audio("done.wav")})
    queue.fail(second.id, "me", "worker fell over")
    assert store.get_node("ann", done[0].id).eta_s is None
    assert store.get_node("ann", failed[0].id).eta_s is None
    assert store.get_node("ann", failed[0].id).status is NodeStatus.ERROR


# -- ChainService -------------------------------------------------------------

async def chain_server(tmp_path, generation_addr: str, **overrides):
    settings = Settings(
        host="127.0.0.1", port=0, database_url=f"sqlite:///{tmp_path}/sparrow.db", blob_dir=str(tmp_path / "blobs"),
        generation_addr=generation_addr, watch_poll_s=0.2, retry_base_s=0.2, lease_s=6, **overrides,
    )
    return await build_server(settings)


def takes_request(parent_id: str, node_id: str, stem: str = "", count: int = 1):
    return chain_pb2.CreateTakesRequest(
        parent_id=parent_id, count=count, knobs=common_pb2.Knobs(duration_s=1.0, prompt_duration_s=1.0),
        melody=chain_pb2.Melody(node_id=node_id, stem=stem),
    )


async def test_with_no_worker_answering_a_melody_is_taken_at_once_and_the_job_says_why(tmp_path):
    server = await chain_server(tmp_path, f"127.0.0.1:{free_port()}", worker_wait_s=1.0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = chain_pb2_grpc.ChainServiceStub(channel)
            created = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
            other = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
            for request, code, words in [
                (takes_request(created.root.id, other.root.id), grpc.StatusCode.INVALID_ARGUMENT, "of this chain"),
                (takes_request(created.root.id, created.root.id, "drums"), grpc.StatusCode.FAILED_PRECONDITION,
                 "not ready"),
                (takes_request(created.root.id, "../etc"), grpc.StatusCode.INVALID_ARGUMENT, "melody node id"),
            ]:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.CreateTakes(request, timeout=5)
                assert caught.value.code() == code and words in caught.value.details()
            asked = time.monotonic()
            (node,) = (await stub.CreateTakes(takes_request(created.root.id, created.root.id), timeout=5)).nodes
            assert time.monotonic() - asked < 1.5  # not held up by the missing worker
            assert node.melody.node_id == created.root.id and node.melody.stem == ""
            deadline = time.monotonic() + 30
            while (node := (await stub.GetNode(chain_pb2.GetNodeRequest(node_id=node.id), timeout=5)).node).status in (
                chain_pb2.NODE_STATUS_PENDING, chain_pb2.NODE_STATUS_GENERATING
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        assert node.status == chain_pb2.NODE_STATUS_ERROR and "can't be reached" in node.error_message
    finally:
        await server.close()


async def test_a_model_that_cannot_take_a_melody_is_refused_at_once(tmp_path, tiny_musicgen):
    from sparrow_generation.config import Settings as GenerationSettings
    from sparrow_generation.server import build_server as build_worker

    worker = await build_worker(GenerationSettings(host="127.0.0.1", port=0, model=str(tiny_musicgen)))
    await asyncio.wait_for(asyncio.shield(worker.loading), 60)
    server = await chain_server(tmp_path, f"127.0.0.1:{worker.running.port}", dispatch_slots=0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = chain_pb2_grpc.ChainServiceStub(channel)
            created = await stub.CreateChain(upload(make_clip("wav")), timeout=30)
            for count in (2, 1):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.CreateTakes(takes_request(created.root.id, created.root.id, count=count), timeout=5)
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "tiny-musicgen" in caught.value.details() and "melody checkpoint" in caught.value.details()
            nodes = (await stub.GetChain(chain_pb2.GetChainRequest(chain_id=created.chain.id), timeout=5)).nodes
            assert len(nodes) == 1  # nothing was written
            # Without a melody the same model is fine.
            await stub.CreateTakes(chain_pb2.CreateTakesRequest(parent_id=created.root.id, count=1), timeout=5)
    finally:
        await server.close()
        await worker.close()


def _builds_melody_models() -> bool:
    import inspect

    from sparrow_generation.engine.tiny import build_random_musicgen

    return "melody" in inspect.signature(build_random_musicgen).parameters


async def _finished(stub, node_id: str):
    deadline = time.monotonic() + 60
    while (node := (await stub.GetNode(chain_pb2.GetNodeRequest(node_id=node_id), timeout=5)).node).status in (
        chain_pb2.NODE_STATUS_PENDING, chain_pb2.NODE_STATUS_GENERATING
    ):
        assert time.monotonic() < deadline, f"node {node_id} did not finish"
        await asyncio.sleep(0.1)
    assert node.status == chain_pb2.NODE_STATUS_READY, node.error_message
    parts = stub.ReadNodeAudio(chain_pb2.ReadNodeAudioRequest(node_id=node_id), timeout=10)
    return b"".join([p.chunk.data async for p in parts if p.WhichOneof("part") == "chunk"])


@pytest.mark.skipif(not _builds_melody_models(), reason="engine.tiny can't build a melody MusicGen yet")
async def test_the_dispatcher_sends_the_melody_the_takes_were_asked_with(tmp_path):
    from sparrow_generation.config import Settings as GenerationSettings
    from sparrow_generation.engine.tiny import build_random_musicgen
    from sparrow_generation.server import build_server as build_worker

    model = build_random_musicgen(tmp_path / "tiny-melody", melody=True)
    worker = await build_worker(
        GenerationSettings(host="127.0.0.1", port=0, model=str(model), window_s=4.0, stride_s=2.4)
    )
    await asyncio.wait_for(asyncio.shield(worker.loading), 60)
    server = await chain_server(tmp_path, f"127.0.0.1:{worker.running.port}")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = chain_pb2_grpc.ChainServiceStub(channel)
            created = await stub.CreateChain(upload(make_clip("wav", seconds=2.0)), timeout=30)
            knobs = common_pb2.Knobs(duration_s=1.0, prompt_duration_s=1.0, seed=5)
            plain = (await stub.CreateTakes(
                chain_pb2.CreateTakesRequest(parent_id=created.root.id, knobs=knobs, count=1), timeout=5
            )).nodes[0]
            plain_audio = await _finished(stub, plain.id)
            heard = {}
            for melody in (created.root.id, plain.id):
                (node,) = (await stub.CreateTakes(
                    chain_pb2.CreateTakesRequest(
                        parent_id=created.root.id, knobs=knobs, count=1, melody=chain_pb2.Melody(node_id=melody)
                    ),
                    timeout=5,
                )).nodes
                heard[melody] = await _finished(stub, node.id)
        # Same seed and knobs: only the melody differs, and each one steered its take.
        assert heard[created.root.id] != plain_audio
        assert heard[created.root.id] != heard[plain.id]
    finally:
        await server.close()
        await worker.close()
