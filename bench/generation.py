"""Generation benchmarks, each figure a ratio measured in this one run, on the
musicgen-small architecture with random weights (../shared/models/musicgen-small.json):

 (a) service overhead: one take through gateway -> chain -> generation (separate
     processes) against the engine called in-process, same model and parameters;
 (b) 4 takes in one batch against 1 take, wall time;
 (c) seconds of new audio per wall second, fp32 against int8 dynamic quantization,
     and what int8 costs in output difference (decoder logits on the same input).

    .venv/bin/python bench/generation.py [--duration 2] [--model-sizes PATH]

Nothing else should run on the machine meanwhile: a second busy process slows a
model run 4x.
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
from sparrow_common.params import GenerationParams
from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok
from sparrow_common.testing.clips import make_clip
from sparrow_gateway.accounts import Tier, entry, new_key
from sparrow_generation.domain import Continuation
from sparrow_generation.engine.musicgen import MusicGenEngine
from sparrow_generation.engine.tiny import build_random_musicgen

SIZES = Path(__file__).resolve().parents[2] / "shared" / "models" / "musicgen-small.json"
THREADS = 2
KEY = new_key()



def timed_takes(engine: MusicGenEngine, context: np.ndarray, params: GenerationParams, seeds) -> float:
    request = Continuation(context, params, tuple(seeds))
    started = time.perf_counter()
    engine.generate(request, lambda *_: None, threading.Event())
    return time.perf_counter() - started


def logits_difference(reference: MusicGenEngine, other: MusicGenEngine, context: np.ndarray) -> tuple[float, float]:
    """Relative L2 error and top-1 agreement of the decoder's logits on one input."""
    inputs = reference._inputs("lofi piano", [context[:, -32000:]], 1)
    with torch.inference_mode():
        codes = reference.model.audio_encoder.encode(inputs["input_values"], inputs["padding_mask"]).audio_codes
        ids = codes[0].reshape(reference.num_codebooks, -1)
        encoder = reference.model.text_encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        hidden = reference.model.enc_to_dec_proj(encoder.last_hidden_state) if hasattr(reference.model, "enc_to_dec_proj") else encoder.last_hidden_state
        a = reference.model.decoder(input_ids=ids, encoder_hidden_states=hidden).logits
        b = other.model.decoder(input_ids=ids, encoder_hidden_states=hidden).logits
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
            root_id = client.post("/api/chains", files={"file": ("clip.wav", clip)}).json()["root"]["id"]
            started = time.perf_counter()
            node_id = client.post(f"/api/nodes/{root_id}/branch", json=body).json()["id"]
            while (node := client.get(f"/api/nodes/{node_id}").json())["status"] not in ("ready", "error"):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            assert node["status"] == "ready", node["error_msg"]
            return elapsed
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
    params = GenerationParams(prompt="lofi piano", duration_s=args.duration, prompt_duration_s=3.0, cfg_coef=3.0, seed=1)
    body = {"prompt": params.prompt, "duration_s": params.duration_s, "prompt_duration_s": 3.0, "cfg_coef": 3.0, "seed": 1}
    clip = make_clip("wav", seconds=5.0, sample_rate=32000)
    context = decode(clip, 32000, 1)[:, -3 * 32000 :]

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_random_musicgen(Path(tmp) / "musicgen-small-random", sizes)
        print(f"musicgen-small architecture, random weights, {THREADS} torch threads, "
              f"{args.duration:g}s takes, 3s prompt, guidance 3")

        engine = MusicGenEngine(str(folder))
        engine.load()
        timed_takes(engine, context, params, [1])  # warm up
        one = timed_takes(engine, context, params, [1])
        four = timed_takes(engine, context, params, [1, 2, 3, 4])
        int8 = MusicGenEngine(str(folder), quantize="int8")
        int8.load()
        timed_takes(int8, context, params, [1])
        one_int8 = timed_takes(int8, context, params, [1])
        relative, agreement = logits_difference(engine, int8, context)
        del engine, int8
        gc.collect()

        service = through_services(folder, clip, body, Path(tmp))

    print(f"(a) one take via gateway->chain->generation {service:.2f}s, in-process engine {one:.2f}s: "
          f"ratio {service / one:.3f} (target <= 1.05)")
    print(f"(b) 4 takes in one batch {four:.2f}s, 1 take {one:.2f}s: ratio {four / one:.2f} (target <= 1.5)")
    print(f"(c) fp32: {args.duration / one:.3f} s of audio per wall second; "
          f"int8 dynamic: {args.duration / one_int8:.3f} (x{one / one_int8:.2f}); "
          f"int8 decoder logits vs fp32: relative L2 error {relative:.4f}, top-1 token agreement {agreement:.1%}")


if __name__ == "__main__":
    main()
