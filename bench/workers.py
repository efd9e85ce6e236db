"""Takes per minute with one generation worker against two, in one run.

The same takes are asked through the gateway twice: once with the chain service
pointing at one worker, once at both (round-robin over their addresses, as over
a headless Service's pods). Each worker runs one torch thread, with a tiny
random MusicGen, so the two workers fill this machine's two cores. Each figure
is the wall time from the first ask to the last take ready.

    .venv/bin/python bench/workers.py [--takes 16] [--duration 6]

Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok, stop_all
from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.metrics import metric
from sparrow_gateway.accounts import Tier, entry, new_key
from sparrow_generation.engine.tiny import build_random_musicgen

KEY = new_key()


def start_workers(model: Path, root: Path, count: int) -> list[tuple[ServiceProcess, int, int]]:
    workers = []
    for i in range(count):
        port, metrics = free_port(), free_port()
        env = {
            "GENERATION_PORT": str(port), "GENERATION_MODEL": str(model), "GENERATION_TORCH_THREADS": "1",
            "GENERATION_METRICS_PORT": str(metrics), "SPARROW_LOG_FORMAT": "text",
        }
        workers.append((ServiceProcess(f"generation{i}", "sparrow_generation", env, root).start(), port, metrics))
    for process, port, _ in workers:
        process.wait_until(lambda p=port: grpc_serving(f"127.0.0.1:{p}"), timeout=180)
    return workers


def takes_per_minute(workers, root: Path, takes: int, duration_s: float) -> tuple[float, list[float]]:
    """Ask `takes` single takes through a fresh chain service and gateway that
    use `workers`; takes per minute, and how many each worker made."""
    chain_port, gateway_port = free_port(), free_port()
    env = {
        "CHAIN_PORT": str(chain_port), "CHAIN_DATABASE_URL": f"sqlite:///{root}/bench-{len(workers)}.db",
        "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_METRICS_PORT": "0",
        "CHAIN_GENERATION_ADDR": "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port, _ in workers),
        "GATEWAY_PORT": str(gateway_port), "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
        "GATEWAY_API_KEYS": entry(KEY, "bench", Tier.PAID), "SPARROW_LOG_FORMAT": "text",
    }
    chain = ServiceProcess(f"chain-{len(workers)}", "sparrow_chain", env, root).start()
    gateway = ServiceProcess(f"gateway-{len(workers)}", "sparrow_gateway", env, root).start()
    before = [metric(m, "sparrow_generation_takes_total") for _, _, m in workers]
    try:
        chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        base = f"http://127.0.0.1:{gateway_port}"
        gateway.wait_until(lambda: http_ok(f"{base}/readyz"))
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=60) as client:
            made = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=3.0))}).json()
            chain_id, root_id = made["id"], made["root"]["id"]
            started = time.perf_counter()
            waiting = {
                client.post(f"/api/nodes/{root_id}/branch", json={"duration_s": duration_s, "seed": i}).json()["id"]
                for i in range(takes)
            }
            # One look at the whole chain per tick: polling each take would cost
            # the two cores more than the workers can spare.
            while waiting:
                for node in client.get(f"/api/chains/{chain_id}").json()["nodes"]:
                    if node["id"] in waiting and node["status"] == "error":
                        raise RuntimeError(node["error_msg"])
                    if node["status"] == "ready":
                        waiting.discard(node["id"])
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
    finally:
        gateway.stop()
        chain.stop()
    made = [metric(m, "sparrow_generation_takes_total") - b for (_, _, m), b in zip(workers, before)]
    return takes / elapsed * 60, made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--takes", type=int, default=16)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of audio per take")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        model = build_random_musicgen(root / "tiny-musicgen")
        workers = start_workers(model, root, 2)
        try:
            # A warm-up, so neither figure pays for first-call costs.
            takes_per_minute(workers, root, 2, 1.0)
            one, one_split = takes_per_minute(workers[:1], root, args.takes, args.duration)
            two, two_split = takes_per_minute(workers, root, args.takes, args.duration)
        finally:
            stop_all(process for process, _, _ in workers)
    print(f"{args.takes} takes of {args.duration:.0f}s, tiny random MusicGen, 1 torch thread per worker")
    print(f"one worker:  {one:6.1f} takes/min  (takes per worker: {one_split})")
    print(f"two workers: {two:6.1f} takes/min  (takes per worker: {two_split})")
    print(f"two / one:   x{two / one:.2f}  (target >= 1.6)")


if __name__ == "__main__":
    main()
