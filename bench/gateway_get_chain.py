"""Benchmark: GET /api/chains/{id} on a 50-node chain at 32 concurrent clients,
through the gateway, beside the same read made straight to the chain service
over gRPC, in one run against the real services (separate processes, SQLite).

    .venv/bin/python bench/gateway_get_chain.py [--requests 3000] [--clients 32]

Prints requests per second and p50/p99 latency for both paths, and their ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import grpc
import httpx
from sparrow.v1 import chain_pb2, chain_pb2_grpc

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok
from sparrow_common.testing.clips import make_clip
from sparrow_gateway.accounts import Tier, entry, new_key

KEY = new_key()


async def hammer(call, requests: int, clients: int) -> dict[str, float]:
    """Run `requests` calls of `call` from `clients` concurrent tasks."""
    latencies: list[float] = []
    remaining = requests

    async def client():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / wall, "p50_ms": quantiles[49] * 1000, "p99_ms": quantiles[98] * 1000}


async def run(requests: int, clients: int, nodes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        chain_port, gateway_port = free_port(), free_port()
        env = {
            "CHAIN_PORT": str(chain_port),
            "CHAIN_DATABASE_URL": f"sqlite:///{root}/bench.db",
            "CHAIN_BLOB_DIR": str(root / "blobs"),
            "CHAIN_LOG_LEVEL": "WARNING",
            # No generation worker here: leave the takes queued.
            "CHAIN_DISPATCH_SLOTS": "0",
            "GATEWAY_PORT": str(gateway_port),
            "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_API_KEYS": entry(KEY, "bench", Tier.PAID),
        }
        chain = ServiceProcess("chain", "sparrow_chain", env, root).start()
        gateway = ServiceProcess("gateway", "sparrow_gateway", env, root).start()
        base = f"http://127.0.0.1:{gateway_port}"
        try:
            chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
            gateway.wait_until(lambda: http_ok(f"{base}/readyz"))
            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits, headers={"X-API-Key": KEY}) as http:
                made = await http.post("/api/chains", files={"file": ("bench.wav", make_clip("wav"))})
                chain_id, root_id = made.json()["id"], made.json()["root"]["id"]
                while (count := len((await http.get(f"/api/chains/{chain_id}")).json()["nodes"])) < nodes:
                    await http.post(f"/api/nodes/{root_id}/takes", json={"count": min(8, nodes - count)})
                assert count == nodes

                async def via_gateway():
                    reply = await http.get(f"/api/chains/{chain_id}")
                    assert reply.status_code == 200

                async with grpc.aio.insecure_channel(f"127.0.0.1:{chain_port}") as channel:
                    stub = chain_pb2_grpc.ChainServiceStub(channel)
                    request = chain_pb2.GetChainRequest(chain_id=chain_id)

                    async def direct():
                        reply = await stub.GetChain(request, timeout=30, metadata=(("x-sparrow-user", "bench"),))
                        assert len(reply.nodes) == nodes

                    await hammer(direct, 200, clients)  # warm up both paths
                    await hammer(via_gateway, 200, clients)
                    grpc_figures = await hammer(direct, requests, clients)
                    gateway_figures = await hammer(via_gateway, requests, clients)
        finally:
            gateway.stop()
            chain.stop()

    print(f"GET chain of {nodes} nodes, {clients} concurrent clients, {requests} requests each path")
    print(f"{'path':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, figures in (("gRPC GetChain (direct)", grpc_figures), ("REST via gateway", gateway_figures)):
        print(f"{name:<26}{figures['rps']:>10.1f}{figures['p50_ms']:>10.1f}{figures['p99_ms']:>10.1f}")
    print(
        f"gateway/direct: throughput x{gateway_figures['rps'] / grpc_figures['rps']:.2f}, "
        f"p50 x{gateway_figures['p50_ms'] / grpc_figures['p50_ms']:.2f}, "
        f"p99 x{gateway_figures['p99_ms'] / grpc_figures['p99_ms']:.2f}"
    )



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--nodes", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.clients, args.nodes))


if __name__ == "__main__":
    main()
