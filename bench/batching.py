"""Continuous batching: many one-take requests sharing the decoder's steps.

On the CPU (the default), through one real generation worker (a separate
process, over gRPC), musicgen-small architecture with random weights, the CPU
default (int8):
 (a) 4 one-take requests at once against the same 4 one after another, wall time;
 (b) takes per minute with one worker, both ways.

On CUDA (`--device cuda`), the engine in-process, musicgen-small architecture
with random weights, the CUDA default (bfloat16 decoder): N one-take requests at
once for N in 1, 8, 32 and 64, with and without CUDA graphs: takes per minute and
the time of one decoding step; then checks of the GPU path on tiny models (every
dtype runs; graphs and eager write the same codes; how often a take's codes are
the same alone and batched in bfloat16).

    .venv/bin/python bench/batching.py [--duration 2] [--model-sizes PATH]
    python3 bench/batching.py --device cuda --duration 8

Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from sparrow_common.params import Knobs
from sparrow_generation.domain import Continuation
from sparrow_generation.engine.musicgen import MusicGenEngine
from sparrow_generation.engine.tiny import build_random_musicgen

SIZES = Path(__file__).resolve().parents[2] / "shared" / "models" / "musicgen-small.json"
SAMPLE_RATE = 32000
PARAMS = dict(prompt="lofi piano", prompt_duration_s=3.0, cfg_coef=3.0)


def context(seconds: float = 5.0) -> np.ndarray:
    """A chord with a pulse: something for the prompt to hear, (1, samples)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    pulse = 0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0)
    return (0.3 * chord * pulse)[None].astype(np.float32)


# -- the CPU: through a real worker ---------------------------------------------


def through_worker(folder: Path, root: Path, duration: float) -> None:
    import grpc
    from sparrow.v1 import common_pb2, generation_pb2, generation_pb2_grpc

    from sparrow_common.audio import encode_wav, split
    from sparrow_common.processes import ServiceProcess, free_port, grpc_serving

    port = free_port()
    env = {
        "GENERATION_PORT": str(port), "GENERATION_MODEL": str(folder), "GENERATION_TORCH_THREADS": "2",
        "GENERATION_METRICS_PORT": "0", "SPARROW_LOG_FORMAT": "text",
    }
    worker = ServiceProcess("generation", "sparrow_generation", env, root).start()
    wav = encode_wav(context(), SAMPLE_RATE)

    async def take(stub, seed: int) -> None:
        def messages():
            params = common_pb2.Knobs(duration_s=duration, **PARAMS)
            yield generation_pb2.GenerateRequest(setup=generation_pb2.GenerateSetup(knobs=params, seeds=[seed]))
            for chunk in split(wav):
                yield generation_pb2.GenerateRequest(context_chunk=common_pb2.AudioChunk(data=chunk))

        async for reply in stub.Generate(messages(), timeout=600):
            done = reply.WhichOneof("part") == "done"
        assert done

    async def measure() -> tuple[float, float]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            await take(stub, 99)  # warm up
            started = time.perf_counter()
            for seed in range(4):
                await take(stub, seed)
            one_after_another = time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.gather(*(take(stub, seed) for seed in range(4)))
            return one_after_another, time.perf_counter() - started

    try:
        worker.wait_until(lambda: grpc_serving(f"127.0.0.1:{port}"), timeout=600)
        apart, together = asyncio.run(measure())
    finally:
        worker.stop()
    print(f"(a) 4 one-take requests at once {together:.2f}s against one after another {apart:.2f}s: "
          f"ratio {together / apart:.2f} (expect well under 1.0)")
    print(f"(b) takes per minute with one worker: {4 * 60 / together:.1f} at once, {4 * 60 / apart:.1f} one after another")


# -- CUDA: the engine in-process --------------------------------------------------


def concurrent_takes(engine: MusicGenEngine, requests: int, duration: float, first_seed: int = 0) -> float:
    """N one-take requests at once, each from its own thread as the worker runs
    them; the wall time until the last take is decoded."""
    params = Knobs(duration_s=duration, **PARAMS)
    audio = context()
    with ThreadPoolExecutor(requests) as pool:
        started = time.perf_counter()
        futures = [
            pool.submit(engine.generate, Continuation(audio, params, (first_seed + i,)), lambda *_: None, threading.Event())
            for i in range(requests)
        ]
        for future in futures:
            future.result()
    return time.perf_counter() - started


def step_time_ms(engine: MusicGenEngine, requests: int, duration: float) -> float:
    """The median time between two decoding steps while all `requests` takes are
    in flight (no admission or retirement between them)."""
    ends: list[tuple[float, int]] = []
    scheduler = engine.scheduler
    step = scheduler._step

    def timed() -> None:
        step()
        ends.append((time.perf_counter(), scheduler.rows_in_flight))

    scheduler._step = timed
    try:
        concurrent_takes(engine, requests, duration, first_seed=1000)
    finally:
        del scheduler._step
    full = 2 * requests
    gaps = [b - a for (a, ra), (b, rb) in zip(ends, ends[1:]) if ra == rb == full]
    return 1000 * statistics.median(gaps)


def on_cuda(sizes: dict, root: Path, duration: float) -> None:
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; musicgen-small architecture, random "
          f"weights, decoder bfloat16, {duration:g}s one-take requests, 3s prompt, guidance 3 (2 rows a take)")
    folder = build_random_musicgen(root / "musicgen-small-random", sizes)
    engine = MusicGenEngine(str(folder), device="cuda")
    engine.load()
    rows = engine.scheduler.rows
    for graphs in (False, True):
        rows.graphed = graphs
        try:
            concurrent_takes(engine, 64, 1.0)  # warm up (and capture) every padded row count
            concurrent_takes(engine, 1, 1.0)
            alone = concurrent_takes(engine, 1, duration)
            for requests in (1, 8, 32, 64):
                wall = alone if requests == 1 else concurrent_takes(engine, requests, duration)
                step = step_time_ms(engine, requests, duration)
                print(f"  {'graphs' if graphs else 'eager '} {requests:3d} at once: {wall:6.2f}s, "
                      f"{requests * 60 / wall:7.1f} takes/min ({requests * alone / wall:5.1f}x one alone), "
                      f"step {step:6.2f} ms", flush=True)
        except Exception:  # noqa: BLE001 - a measurement script: say what broke, go on
            traceback.print_exc()
    del engine
    torch.cuda.empty_cache()
    try:
        checks(root)
    except Exception:  # noqa: BLE001
        traceback.print_exc()


def checks(root: Path) -> None:
    """The GPU path on tiny models: the dtypes, graphs against eager, batch invariance."""
    tiny = build_random_musicgen(root / "tiny")
    stereo = build_random_musicgen(root / "tiny-stereo", stereo=True)
    melody = build_random_musicgen(root / "tiny-melody", melody=True)
    params = Knobs(duration_s=2.0, prompt_duration_s=1.0, prompt="warm", top_k=20)
    audio = context(2.0)
    for folder in (tiny, stereo, melody):
        for dtype in ("auto", "float16", "bfloat16", "float32"):
            engine = MusicGenEngine(str(folder), device="cuda", dtype=dtype)
            engine.load()
            clip = np.repeat(audio, engine.channels, axis=0)
            takes = engine.generate(Continuation(clip, params, (1, 2)), lambda *_: None, threading.Event())
            ok = all(np.isfinite(t.audio).all() and t.audio.shape == (engine.channels, 2 * SAMPLE_RATE) for t in takes)
            print(f"  check {folder.name} {dtype}: {len(takes)} takes, finite, right length: {ok}")
    eager = MusicGenEngine(str(tiny), device="cuda", cuda_graphs=False)
    eager.load()
    graphed = MusicGenEngine(str(tiny), device="cuda")
    graphed.load()
    request = Continuation(audio, params, (5, 6, 7))
    codes = [e.write_codes(request, lambda *_: None, threading.Event())[1] for e in (eager, graphed)]
    print(f"  check graphs against eager, same takes: codes equal {torch.equal(codes[0], codes[1])}")
    alone = graphed.write_codes(Continuation(audio, params, (9,)), lambda *_: None, threading.Event())[1]
    with ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(graphed.write_codes, Continuation(audio, params, (9 if i == 0 else 100 + i,)),
                        lambda *_: None, threading.Event())
            for i in range(8)
        ]
        batched = futures[0].result()[1]
    same = float((alone == batched).float().mean())
    print(f"  check bfloat16 take alone against with 7 others (the cache grew, graphs captured again): "
          f"{same:.1%} of its codes the same")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of new audio per take")
    parser.add_argument("--model-sizes", type=Path, default=SIZES)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--checks-only", action="store_true", help="on CUDA: only the checks of the GPU path")
    args = parser.parse_args()
    sizes = json.loads(args.model_sizes.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        if args.device.startswith("cuda") and args.checks_only:
            checks(Path(tmp))
        elif args.device.startswith("cuda"):
            on_cuda(sizes, Path(tmp), args.duration)
        else:
            print(f"musicgen-small architecture, random weights, CPU default (int8), 2 torch threads, "
                  f"{args.duration:g}s takes, 3s prompt, guidance 3")
            through_worker(build_random_musicgen(Path(tmp) / "musicgen-small-random", sizes), Path(tmp), args.duration)


if __name__ == "__main__":
    main()
