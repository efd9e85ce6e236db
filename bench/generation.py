"""Generation benchmarks, each figure a ratio measured in this one run, on the
musicgen-small architecture with random weights (../shared/models/musicgen-small.json):

 (a) service overhead: one take through gateway -> chain -> generation (separate
     processes, the client following the chain's events) against the engine
     called in-process, same model and parameters;
 (b) 4 takes in one batch against 1 take, wall time, float32 and the CPU
     default (int8);
 (c) seconds of new audio per wall second, float32 against the CPU default (the
     decoder's linear layers in int8, per row), and what int8 costs in output
     difference (decoder logits on the same input, and codes of the same take).

    .venv/bin/python bench/generation.py [--duration 2] [--model-sizes PATH]

Each time is the median of REPEATS runs. Nothing else should run on the
machine meanwhile: a second busy process slows a model run 4x.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch

from sparrow_common.audio import decode
from sparrow_common.params import Knobs
from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok
from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.sse import read_events
from sparrow_gateway.accounts import Tier, entry, new_key
from sparrow_generation.domain import Continuation
from sparrow_generation.engine.musicgen import MusicGenEngine
from sparrow_generation.engine.tiny import build_random_musicgen

SIZES = Path(__file__).resolve().parents[2] / "shared" / "models" / "musicgen-small.json"
THREADS = 2
# Each figure is the median of this many runs: one run of a take on this kind of
# machine varies by 10-20% from the next.
REPEATS = 3
KEY = new_key()



def timed_takes(engine: MusicGenEngine, context: np.ndarray, params: Knobs, seeds) -> float:
    request = Continuation(context, params, tuple(seeds))
    started = time.perf_counter()
    engine.generate(request, lambda *_: None, threading.Event())
    return time.perf_counter() - started


def one_and_four(engine: MusicGenEngine, context: np.ndarray, params: Knobs) -> tuple[float, float]:
    """Median wall time of 1 take and of 4 takes, run in turn after a warm-up, so
    that the machine's drift over the run falls on both alike."""
    timed_takes(engine, context, params, [1])
    ones, fours = [], []
    for _ in range(REPEATS):
        ones.append(timed_takes(engine, context, params, [1]))
        fours.append(timed_takes(engine, context, params, [1, 2, 3, 4]))
    return float(np.median(ones)), float(np.median(fours))


def logits_difference(reference: MusicGenEngine, other: MusicGenEngine, context: np.ndarray) -> tuple[float, float]:
    """Relative L2 error and top-1 agreement of the decoder's logits on one input."""
    with torch.inference_mode():
        codes = reference.codec.encode(context[:, -32000:])
        ids = reference.pattern.prefill(codes)
        heard = reference.conditioner("lofi piano", guided=False)
        logits = []
        for engine in (reference, other):
            prefill = engine.scheduler.prefill  # every position's logits, not only the last
            hidden = prefill.transformer(input_ids=ids.reshape(-1, ids.shape[-1]), **heard.arguments()).last_hidden_state
            logits.append(torch.stack([head(hidden) for head in prefill.lm_heads], dim=1))
    a, b = logits
    relative = float(torch.linalg.norm(a - b) / torch.linalg.norm(a))
    agreement = float((a.argmax(-1) == b.argmax(-1)).float().mean())
    return relative, agreement


def through_services(model: Path, clip: bytes, body: dict, root: Path) -> float:
    chain_port, generation_port, gateway_port = free_port(), free_port(), free_port()
    env = {
        "CHAIN_PORT": str(chain_port), "CHAIN_DATABASE_URL": f"sqlite:///{root}/bench.db",
        "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_GENERATION_ADDR": f"127.0.0.1:{generation_port}",
        "GENERATION_PORT": str(generation_port), "GENERATION_MODEL": str(model),
        "GENERATION_TORCH_THREADS": str(THREADS),
        "GATEWAY_PORT": str(gateway_port), "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
        "GATEWAY_API_KEYS": entry(KEY, "bench", Tier.PAID),
    }
    services = [
        ServiceProcess("generation", "sparrow_generation", env, root),
        ServiceProcess("chain", "sparrow_chain", env, root),
        ServiceProcess("gateway", "sparrow_gateway", env, root),
    ]
    base = f"http://127.0.0.1:{gateway_port}"
    try:
        services[0].start().wait_until(lambda: grpc_serving(f"127.0.0.1:{generation_port}"), timeout=600)
        services[1].start().wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        services[2].start().wait_until(lambda: http_ok(f"{base}/readyz"))
        with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": KEY}) as client:
            chain = client.post("/api/chains", files={"file": ("clip.wav", clip)}).json()
            # Follow the chain's events, as the editor does, rather than polling,
            # which would take CPU from the model on a small machine.
            with client.stream("GET", f"/api/chains/{chain['id']}/events", timeout=None) as events:
                lines = read_events(events.iter_lines())
                next(lines)  # the stream is open
                timings = []
                for _ in range(1 + REPEATS):  # the first warms the worker up, as the engine's first call does
                    started = time.perf_counter()
                    node_id = client.post(f"/api/nodes/{chain['root']['id']}/branch", json=body).json()["id"]
                    for event in lines:
                        node = event["data"]
                        if node.get("node_id") == node_id and node.get("status") in ("ready", "error"):
                            break
                    timings.append(time.perf_counter() - started)
                    assert node["status"] == "ready", node.get("error_msg")
            return float(np.median(timings[1:]))
    finally:
        for service in reversed(services):
            service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of new audio per take")
    parser.add_argument("--model-sizes", type=Path, default=SIZES)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    sizes = json.loads(args.model_sizes.read_text())
    params = Knobs(prompt="lofi piano", duration_s=args.duration, prompt_duration_s=3.0, cfg_coef=3.0, seed=1)
    body = {"prompt": params.prompt, "duration_s": params.duration_s, "prompt_duration_s": 3.0, "cfg_coef": 3.0, "seed": 1}
    clip = make_clip("wav", seconds=5.0, sample_rate=32000)
    context = decode(clip, 32000, 1)[:, -3 * 32000 :]

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_random_musicgen(Path(tmp) / "musicgen-small-random", sizes)
        print(f"musicgen-small architecture, random weights, {THREADS} torch threads, "
              f"{args.duration:g}s takes, 3s prompt, guidance 3")

        engine = MusicGenEngine(str(folder), quantize="none")
        engine.load()
        one_fp32, four_fp32 = one_and_four(engine, context, params)
        default = MusicGenEngine(str(folder))  # on the CPU: int8
        default.load()
        one, four = one_and_four(default, context, params)
        relative, agreement = logits_difference(engine, default, context)
        del engine, default
        gc.collect()

        service = through_services(folder, clip, body, Path(tmp))

    print(f"(a) one take via gateway->chain->generation {service:.2f}s, in-process engine {one:.2f}s: "
          f"ratio {service / one:.3f} (target <= 1.05)")
    print(f"(b) 4 takes in one batch against 1 take (target <= 1.3): float32 {four_fp32:.2f}s against "
          f"{one_fp32:.2f}s, ratio {four_fp32 / one_fp32:.2f}; CPU default (int8) {four:.2f}s against {one:.2f}s, "
          f"ratio {four / one:.2f}")
    print(f"(c) float32: {args.duration / one_fp32:.3f} s of audio per wall second; "
          f"CPU default (int8): {args.duration / one:.3f} (x{one_fp32 / one:.2f}); "
          f"int8 decoder logits vs float32: relative L2 error {relative:.4f}, top-1 token agreement {agreement:.1%}")


if __name__ == "__main__":
    main()
