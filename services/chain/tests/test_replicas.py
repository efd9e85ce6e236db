"""Two chain replicas on one PostgreSQL database, in-process: what one writes,
the other's watchers hear at once (LISTEN/NOTIFY), and jobs remember the
request that asked for them."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from prometheus_client import REGISTRY
from sparrow.v1 import chain_pb2, chain_pb2_grpc
from sqlalchemy import select

from sparrow_chain.config import Settings
from sparrow_chain.server import build_server
from sparrow_chain.store.tables import jobs
from sparrow_common.testing.chain import upload
from sparrow_common.testing.clips import make_clip

# Far longer than the test waits: only a notification can wake the watcher in time.
SLOW_POLL_S = 60.0


@pytest.fixture
async def replicas(tmp_path, postgres_url):
    settings = dict(
        host="127.0.0.1", port=0, database_url=postgres_url, blob_dir=str(tmp_path / "blobs"),
        watch_poll_s=SLOW_POLL_S, dispatch_slots=0,
    )
    servers = [await build_server(Settings(**settings)) for _ in range(2)]
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{s.running.port}") for s in servers]
    yield [chain_pb2_grpc.ChainServiceStub(c) for c in channels]
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.close()


async def test_a_watcher_hears_the_other_replicas_writes_at_once(replicas):
    one, other = replicas
    created = await one.CreateChain(upload(make_clip("wav", seconds=1.0)), timeout=30)
    watch = other.WatchChain(chain_pb2.WatchChainRequest(chain_id=created.chain.id, after_seq=1), timeout=30)
    # Give the watcher time to read the (empty) log and wait on its bell.
    await asyncio.sleep(0.5)
    await one.CreateTakes(chain_pb2.CreateTakesRequest(parent_id=created.root.id, count=2), timeout=5)
    heard = [await asyncio.wait_for(watch.read(), 5.0) for _ in range(2)]
    assert [reply.event.seq for reply in heard] == [2, 3]
    assert {reply.event.kind for reply in heard} == {chain_pb2.EVENT_KIND_NODE_CREATED}
    watch.cancel()


async def test_a_job_keeps_the_request_id_and_the_calls_are_counted(replicas, postgres_url):
    from sqlalchemy import create_engine

    one, _ = replicas
    method = "/sparrow.v1.ChainService/CreateTakes"
    before = REGISTRY.get_sample_value("sparrow_rpc_handled_total", {"method": method, "code": "OK"}) or 0.0
    created = await one.CreateChain(upload(make_clip("wav", seconds=1.0)), timeout=30)
    await one.CreateTakes(
        chain_pb2.CreateTakesRequest(parent_id=created.root.id, count=3),
        metadata=(("x-request-id", "take-42"),), timeout=5,
    )
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(select(jobs.c.request_id)).scalars().all() == ["take-42"]
    engine.dispose()
    assert REGISTRY.get_sample_value("sparrow_rpc_handled_total", {"method": method, "code": "OK"}) == before + 1
    assert REGISTRY.get_sample_value("sparrow_jobs", {"kind": "takes", "state": "queued"}) == 1
    assert REGISTRY.get_sample_value("sparrow_queue_depth", {"kind": "takes"}) == 1
    with pytest.raises(grpc.aio.AioRpcError):
        await one.GetChain(chain_pb2.GetChainRequest(chain_id="not-an-id"), timeout=5)
    assert REGISTRY.get_sample_value(
        "sparrow_rpc_handled_total", {"method": "/sparrow.v1.ChainService/GetChain", "code": "INVALID_ARGUMENT"}
    ) >= 1
