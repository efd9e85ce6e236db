"""Stems benchmarks, each a ratio measured in this one run, on the released
htdemucs architecture with random weights (../shared/models/htdemucs.json):

 (a) stems of a clip through gateway -> chain -> stems (separate processes),
     the client following the chain's events, against demucs's apply_model
     called in-process on the same audio;
 (b) asking again for the same stems (served from the cache) against the first time;
 (c) htdemucs audio seconds per wall second on this CPU, in-process.

    .venv/bin/python bench/stems.py [--seconds 30]

Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch
from demucs.apply import apply_model
from demucs.pretrained import get_model

from sparrow_common.audio import decode
from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok
from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.sse import read_events
from sparrow_gateway.accounts import Tier, entry, new_key
from sparrow_stems.engine.tiny import build_random_htdemucs

SIZES = Path(__file__).resolve().parents[2] / "shared" / "models" / "htdemucs.json"
THREADS = 2
KEY = new_key()


def in_process(folder: Path, clip: bytes) -> float:
    """apply_model as demucs's own separate runs it (normalized mix, split, overlap 0.25)."""
    model = get_model("htdemucs", repo=folder)
    model.eval()
    wav = torch.from_numpy(decode(clip, model.samplerate, model.audio_channels))
    reference = wav.mean(0)
    started = time.perf_counter()
    with torch.inference_mode():
        normalized = (wav - reference.mean()) / (reference.std() + 1e-8)
        apply_model(model, normalized[None], shifts=0, split=True, overlap=0.25)
    return time.perf_counter() - started


def through_services(folder: Path, clip: bytes, root: Path) -> tuple[float, float]:
    chain_port, stems_port, gateway_port = free_port(), free_port(), free_port()
    env = {
        "CHAIN_PORT": str(chain_port), "CHAIN_DATABASE_URL": f"sqlite:///{root}/bench.db",
        "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_STEMS_ADDR": f"127.0.0.1:{stems_port}",
        "CHAIN_PROGRESS_INTERVAL_S": "1",
        "STEMS_PORT": str(stems_port), "STEMS_MODEL_DIR": str(folder), "STEMS_TORCH_THREADS": str(THREADS),
        "GATEWAY_PORT": str(gateway_port), "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
        "GATEWAY_API_KEYS": entry(KEY, "bench", Tier.PAID),
    }
    services = [
        ServiceProcess("stems", "sparrow_stems", env, root),
        ServiceProcess("chain", "sparrow_chain", env, root),
        ServiceProcess("gateway", "sparrow_gateway", env, root),
    ]
    base = f"http://127.0.0.1:{gateway_port}"
    try:
        services[0].start().wait_until(lambda: grpc_serving(f"127.0.0.1:{stems_port}"), timeout=300)
        services[1].start().wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        services[2].start().wait_until(lambda: http_ok(f"{base}/readyz"))
        with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": KEY}) as client:

            def separate(data: bytes) -> tuple[str, float]:
                chain = client.post("/api/chains", files={"file": ("clip.wav", data)}).json()
                node_id = chain["root"]["id"]
                # Follow the chain's events, as the editor does: the stems' end is
                # heard the moment it lands, and no poller takes the model's cores.
                with client.stream("GET", f"/api/chains/{chain['id']}/events", timeout=None) as events:
                    lines = read_events(events.iter_lines())
                    next(lines)  # the stream is open
                    started = time.perf_counter()
                    client.post(f"/api/nodes/{node_id}/stems").raise_for_status()
                    for event in lines:
                        stems = event["data"].get("stems") or {}
                        if event["event"] == "stems.updated" and stems.get("status") in ("ready", "error"):
                            break
                    elapsed = time.perf_counter() - started
                assert stems["status"] == "ready", stems.get("error_msg")
                return node_id, elapsed

            separate(make_clip("wav", seconds=2.0, sample_rate=44100, channels=2))  # warm up, as in-process
            node_id, first = separate(clip)
            started = time.perf_counter()
            again = client.post(f"/api/nodes/{node_id}/stems").json()
            cached = time.perf_counter() - started
            assert again["status"] == "ready"
            worker = [line for line in services[0].log().splitlines() if "separated" in line][-1]
            print("stems worker:", worker.split(": ", 1)[-1])
            return first, cached
    finally:
        for service in reversed(services):
            service.stop()


# glibc keeps big allocations in its heap instead of mapping and unmapping them
# per segment (the stems image sets the same); in-process and worker alike.
MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "1073741824"}


def main() -> None:
    if any(os.environ.get(k) != v for k, v in MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    clip = make_clip("wav", seconds=args.seconds, sample_rate=44100, channels=2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_random_htdemucs(Path(tmp) / "htdemucs-random", json.loads(SIZES.read_text()))
        in_process(folder, make_clip("wav", seconds=2.0, sample_rate=44100, channels=2))  # warm up
        direct = in_process(folder, clip)
        first, cached = through_services(folder, clip, Path(tmp))
    print(f"htdemucs architecture, random weights, {THREADS} torch threads, {args.seconds:g}s stereo 44.1 kHz")
    print(f"(a) stems via gateway->chain->stems {first:.2f}s, apply_model in-process {direct:.2f}s: "
          f"ratio {first / direct:.3f} (target <= 1.05)")
    print(f"(b) asked again, from the cache: {cached * 1000:.1f} ms, {first / cached:.0f}x faster (target >= 100x)")
    print(f"(c) htdemucs in-process: {args.seconds / direct:.2f} audio seconds per wall second")


if __name__ == "__main__":
    main()
