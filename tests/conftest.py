"""End-to-end fixtures: the chain service and the gateway as real processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sparrow_chain.blobs import LocalBlobStore
from sparrow_chain.domain import StoredAudio
from sparrow_chain.store import ChainStore, make_engine
from sparrow_common.audio import probe
from sparrow_common.testing.clips import make_clip
from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok

UPLOAD_LIMIT = 3 * 1024 * 1024


@dataclass
class Stack:
    base_url: str
    chain: ServiceProcess
    gateway: ServiceProcess
    database_url: str
    blob_dir: Path
    upload_limit: int = UPLOAD_LIMIT

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def play_worker(self, node_id: str, seconds: float = 2.0) -> None:
        """Do what the generation dispatcher does when a take is done: store its
        audio and mark it ready. (Generation itself is not part of this stack.)"""
        engine = make_engine(self.database_url)
        try:
            store = ChainStore(engine)
            node = store.get_node("", node_id)
            blobs = LocalBlobStore(self.blob_dir)
            incoming = blobs.incoming()
            incoming.write_bytes(make_clip("wav", seconds=seconds))
            info = probe(incoming)
            key = f"{node.chain_id}/{node.id}.wav"
            blobs.put(key, incoming)
            store.finish_node(
                node_id,
                StoredAudio(key, info.format, info.content_type, info.sample_rate, info.channels,
                            info.duration_s, info.size_bytes),
            )
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    chain_port, gateway_port = free_port(), free_port()
    database_url = f"sqlite:///{root}/sparrow.db"
    chain = ServiceProcess(
        "chain", "sparrow_chain",
        {
            "CHAIN_PORT": str(chain_port), "CHAIN_DATABASE_URL": database_url,
            "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_WATCH_POLL_S": "0.5",
        },
        root,
    ).start()
    gateway = ServiceProcess(
        "gateway", "sparrow_gateway",
        {
            "GATEWAY_PORT": str(gateway_port), "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
            "GATEWAY_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), "GATEWAY_SSE_PING_S": "1",
        },
        root,
    ).start()
    try:
        chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        base_url = f"http://127.0.0.1:{gateway_port}"
        gateway.wait_until(lambda: http_ok(f"{base_url}/readyz"))
        yield Stack(base_url, chain, gateway, database_url, root / "blobs")
    finally:
        gateway.stop()
        chain.stop()
