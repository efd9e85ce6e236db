"""Connections between services that stay up while nothing is said on them, and
calls that end in words when the files feeding them are gone (issue 29).

The keepalive tests ping every second (SPARROW_KEEPALIVE_S=1, on both ends),
so what broke after minutes at 30 s (GOAWAY "too_many_pings" after two
strikes) would break here within about three seconds."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sparrow.v1 import chain_pb2, chain_pb2_grpc, export_pb2, export_pb2_grpc

from sparrow_common.channels import open_channel
from sparrow_common.processes import ServiceProcess, free_port, grpc_serving
from sparrow_common.server import KEEPALIVE_ENV
from sparrow_common.testing.clips import make_clip

PING_S = "1"
# Long enough for eight pings: a server that counts them as strikes sent
# GOAWAY after three to five (the export worker, measured).
IDLE_S = 8.0
USER = [("x-sparrow-user", "ann")]


@pytest.fixture(scope="module")
def pinging(start_module_stack):
    """A stack (chain, export, gateway; no generation) whose services and this
    test process all ping every second."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEEPALIVE_ENV, PING_S)
        yield start_module_stack(None)


@pytest.fixture(scope="module")
def default_export(tmp_path_factory):
    """An export worker on the default keepalive policy (SPARROW_KEEPALIVE_S unset)."""
    port = free_port()
    env = {"EXPORT_PORT": str(port), "EXPORT_METRICS_PORT": str(free_port())}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(KEEPALIVE_ENV, raising=False)
        worker = ServiceProcess("export", "sparrow_export", env, tmp_path_factory.mktemp("default_export")).start()
    try:
        yield worker, f"127.0.0.1:{port}"
    finally:
        worker.stop()


def _chain_port(stack) -> str:
    return stack.chain.env["CHAIN_PORT"]


def _export_addr(stack) -> str:
    return stack.chain.env["CHAIN_EXPORT_ADDR"]


def _render_setup() -> export_pb2.RenderRequest:
    return export_pb2.RenderRequest(
        setup=export_pb2.RenderSetup(format=export_pb2.RENDER_FORMAT_WAV, clip_count=1, clip_names=["Riff"])
    )


async def _idle_render(address: str, idle_s: float) -> list[str]:
    """A Render call that sends its setup, says nothing for `idle_s`, then its
    clip: the parts of the answer, in order."""

    async def requests():
        yield _render_setup()
        await asyncio.sleep(idle_s)
        yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=0, data=make_clip("wav", 1.0)))

    channel = open_channel(address)
    try:
        call = export_pb2_grpc.ExportServiceStub(channel).Render(requests(), timeout=60)
        return [reply.WhichOneof("part") async for reply in call]
    finally:
        await channel.close()


async def _idle_watch(chain_port: str, chain_id: str, idle_s: float, touch) -> str:
    """A watch that sees nothing for `idle_s` (after the chain's events so
    far), then the event of `touch()`: the title it carries."""
    channel = open_channel(f"127.0.0.1:{chain_port}")
    try:
        stub = chain_pb2_grpc.ChainServiceStub(channel)
        call = stub.WatchChain(chain_pb2.WatchChainRequest(chain_id=chain_id), metadata=USER, timeout=60)
        await asyncio.sleep(idle_s)
        await asyncio.to_thread(touch)
        async for reply in call:
            if reply.event.title:
                return reply.event.title
        raise AssertionError("the watch ended without the rename")
    finally:
        await channel.close()


async def test_idle_calls_stay_open_where_servers_allow_the_clients_pings(default_export, pinging, monkeypatch):
    """An idle watch and an idle export on servers that allow a ping a second
    stay open and answer; an idle export on an export worker left on the
    default policy (today's mismatch, shortened: as a client pinging every 30 s
    met gRPC's default of 5 minutes) is sent away with GOAWAY "too many pings"."""
    worker, mismatched = default_export
    worker.wait_until(lambda: grpc_serving(mismatched))
    monkeypatch.setenv(KEEPALIVE_ENV, PING_S)
    with pinging.client("ann") as client:
        chain = client.post("/api/chains", files={"file": ("riff.wav", make_clip("wav"))}).json()

        def touch():
            assert client.patch(f"/api/chains/{chain['id']}", json={"title": "Riff, renamed"}).status_code == 200

        watched, rendered, refused = await asyncio.gather(
            _idle_watch(_chain_port(pinging), chain["id"], IDLE_S, touch),
            _idle_render(_export_addr(pinging), IDLE_S),
            _idle_render(mismatched, IDLE_S),
            return_exceptions=True,
        )
    # The same calls answer: no GOAWAY closed them (that ends a call UNAVAILABLE).
    assert watched == "Riff, renamed"
    assert isinstance(rendered, list) and "info" in rendered and rendered[-1] == "chunk", rendered
    assert isinstance(refused, grpc.aio.AioRpcError), refused
    assert refused.code() == grpc.StatusCode.UNAVAILABLE
    assert "too many pings" in (refused.details() or "").lower()


def test_an_export_whose_part_lost_its_audio_says_which_at_once(pinging):
    """A part's audio file gone from the blob folder: the export answers 409
    naming the part (the chain is there, its audio is not), not a hang."""
    with pinging.client("ann") as client:
        chain = client.post("/api/chains", files={"file": ("lost-riff.wav", make_clip("wav"))}).json()
        for path in (pinging.blob_dir / chain["id"]).iterdir():
            path.unlink()
        # A hang would raise the client's ReadTimeout (10 s).
        reply = client.post(f"/api/chains/{chain['id']}/export", json={"format": "wav"}, timeout=10)
    assert reply.status_code == 409, reply.text
    detail = reply.json()["detail"]
    assert "lost-riff" in detail and "missing" in detail
    assert str(pinging.blob_dir) not in detail


def test_a_take_whose_context_lost_its_audio_fails_naming_the_part(pinging):
    """The takes' prompt is read from the path's audio before any worker is
    asked: the root's file gone fails the takes with words naming it, not a hang."""
    with pinging.client("ann") as client:
        chain = client.post("/api/chains", files={"file": ("lost-groove.wav", make_clip("wav"))}).json()
        for path in (pinging.blob_dir / chain["id"]).iterdir():
            path.unlink()
        takes = client.post(f"/api/nodes/{chain['root']['id']}/takes", json={"count": 1, "duration_s": 1}).json()
    node = pinging.wait_for(takes["nodes"][0]["id"], timeout=30)
    assert node["status"] == "error"
    assert "lost-groove" in node["error_msg"] and "missing" in node["error_msg"]
    assert str(pinging.blob_dir) not in node["error_msg"]

