"""Benchmark: how long a plain GET /api/chains/{id} takes alone, and while 20
uploads of long clips are being checked, in one run against the real services
(chain and gateway as separate processes, SQLite).

Checking an upload decodes it whole; reads must not wait behind that work.

    .venv/bin/python bench/reads_during_uploads.py [--uploads 20] [--seconds 180]

Prints p50 and p99 of the GET, alone and during the uploads, and their ratio.
Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok, stop_all
from sparrow_common.testing.clips import make_clip
from sparrow_gateway.accounts import Tier, entry, new_key

KEY = new_key()


def percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


async def reads(client: httpx.AsyncClient, chain_id: str, until: asyncio.Event | None, count: int) -> list[float]:
    """GETs one after another: `count` of them, or until `until` is set."""
    latencies = []
    while (until is None and len(latencies) < count) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        reply = await client.get(f"/api/chains/{chain_id}")
        reply.raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


async def run(uploads: int, seconds: float, root: Path) -> None:
    chain_port, gateway_port = free_port(), free_port()
    env = {
        "CHAIN_PORT": str(chain_port), "CHAIN_DATABASE_URL": f"sqlite:///{root}/bench.db",
        "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_DISPATCH_SLOTS": "0", "CHAIN_METRICS_PORT": "0",
        "GATEWAY_PORT": str(gateway_port), "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
        "GATEWAY_METRICS_PORT": "0", "GATEWAY_API_KEYS": entry(KEY, "bench", Tier.PAID), "SPARROW_LOG_FORMAT": "text",
    }
    chain = ServiceProcess("chain", "sparrow_chain", env, root).start()
    gateway = ServiceProcess("gateway", "sparrow_gateway", env, root).start()
    long_clip = make_clip("flac", seconds=seconds, sample_rate=44100, channels=2)
    try:
        chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        gateway.wait_until(lambda: http_ok(f"http://127.0.0.1:{gateway_port}/readyz"))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway_port}", headers={"X-API-Key": KEY}, timeout=600
        ) as client:
            song = (await client.post("/api/chains", files={"file": ("a.wav", make_clip("wav"))})).json()
            await reads(client, song["id"], None, 50)  # warm up
            alone = await reads(client, song["id"], None, 300)

            done = asyncio.Event()

            async def upload(i: int) -> float:
                started = time.perf_counter()
                reply = await client.post("/api/chains", files={"file": (f"long{i}.flac", long_clip)})
                reply.raise_for_status()
                return time.perf_counter() - started

            async def all_uploads() -> list[float]:
                try:
                    return await asyncio.gather(*(upload(i) for i in range(uploads)))
                finally:
                    done.set()

            upload_times, during = await asyncio.gather(all_uploads(), reads(client, song["id"], done, 0))
    finally:
        stop_all((gateway, chain))
    a50, a99 = percentiles(alone)
    d50, d99 = percentiles(during)
    print(f"{uploads} concurrent uploads of a {seconds:g} s stereo FLAC ({len(long_clip) / 1e6:.1f} MB), "
          f"the last done after {max(upload_times):.1f} s")
    print(f"GET /api/chains/{{id}} alone:           p50 {a50:7.1f} ms  p99 {a99:7.1f} ms  ({len(alone)} reads)")
    print(f"GET /api/chains/{{id}} during uploads:  p50 {d50:7.1f} ms  p99 {d99:7.1f} ms  ({len(during)} reads)")
    print(f"p99 during / alone: {d99 / a99:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each uploaded clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.uploads, args.seconds, Path(tmp)))


if __name__ == "__main__":
    main()
