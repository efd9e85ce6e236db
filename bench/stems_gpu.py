"""The stems engine on a GPU: two offered models (four and six stems) through
the production loading and separation code, checked against demucs's own
apply_model on the same device (and compared with the CPU), then timed on the
released architectures' sizes with random weights. For a GPU machine without
this repo's venv (it needs torch, demucs 4.1.0, einops, julius, pyyaml, tqdm):

    PYTHONPATH=libs/common/src:services/stems/src python bench/stems_gpu.py OUT_DIR [cuda|cpu] [SIZES.json]

`cpu` is a dry run of the checks; the figures go to OUT_DIR/stems_gpu.txt."""

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from sparrow_stems.domain import Mix
from sparrow_stems.engine.demucs import DemucsEngine
from sparrow_stems.engine.tiny import SIX_STEMS, build_random_htdemucs

out = Path(sys.argv[1])
DEVICE = sys.argv[2] if len(sys.argv) > 2 else "cuda"  # "cpu" for a dry run of the checks
lines = []


def say(text):
    print(text, flush=True)
    lines.append(text)
    (out / "stems_gpu.txt").write_text("\n".join(lines) + "\n")


say(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, "
    f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")
rng = np.random.default_rng(0)


def mix(seconds):
    audio = (0.1 * rng.standard_normal((2, int(seconds * 44100)))).astype(np.float32)
    return Mix(audio, 44100)


with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp) / "tiny"
    build_random_htdemucs(folder)
    build_random_htdemucs(folder, name="htdemucs_6s", sources=SIX_STEMS, seed=6)
    cuda = DemucsEngine(["htdemucs", "htdemucs_6s"], folder, device=DEVICE)
    cpu = DemucsEngine(["htdemucs", "htdemucs_6s"], folder, device="cpu")
    cuda.load()
    cpu.load()
    say(f"offered {cuda.model_ids}, stems {cuda.stems_of()}")
    clip = mix(10.0)
    for name in cuda.model_ids:
        steps = []
        on_gpu = cuda.separate(clip, lambda d, t: steps.append((d, t)), threading.Event(), model_id=name)
        on_cpu = cpu.separate(clip, lambda d, t: None, threading.Event(), model_id=name)
        assert list(on_gpu.audio) == list(on_cpu.audio) and on_gpu.model == name
        worst = max(
            float(np.abs(on_gpu.audio[s] - on_cpu.audio[s]).max() / (np.abs(on_cpu.audio[s]).max() + 1e-9))
            for s in on_gpu.audio
        )
        # The engine against demucs's own path on the same device: the same arithmetic.
        from demucs.apply import apply_model as reference

        wav = torch.from_numpy(clip.audio)
        ref = wav.mean(0)
        mean, std = ref.mean(), ref.std() + 1e-8
        with torch.inference_mode():
            expected = reference(cuda.models[name], ((wav - mean) / std)[None], shifts=0, split=True,
                                 overlap=0.25, device=DEVICE)
        expected = (expected * std + mean)[0].numpy()
        same = max(float(np.abs(on_gpu.audio[s] - expected[i]).max()) for i, s in enumerate(on_gpu.audio))
        say(f"tiny {name}: {list(on_gpu.audio)}, shape {on_gpu.audio['drums'].shape}, "
            f"steps {steps[0]}..{steps[-1]}; against demucs's apply_model on the GPU: max difference {same:.1e}; "
            f"against the CPU: worst relative difference {worst:.2e} (random tiny weights)")
        assert same < 1e-5, same

    if DEVICE == "cpu":
        say("dry run: ok")
        sys.exit(0)
    default = Path(__file__).resolve().parents[2] / "shared" / "models" / "htdemucs.json"
    sizes = json.loads(Path(sys.argv[3] if len(sys.argv) > 3 else default).read_text())
    real = Path(tmp) / "real"
    build_random_htdemucs(real, sizes)
    build_random_htdemucs(real, sizes, name="htdemucs_6s", sources=SIX_STEMS, seed=6)
    engine = DemucsEngine(["htdemucs", "htdemucs_6s"], real, device="cuda")
    engine.load()
    from demucs.apply import apply_model

    for seconds in (60.0, 300.0):
        song = mix(seconds)
        for name in engine.model_ids:
            engine.separate(mix(8.0), lambda d, t: None, threading.Event(), model_id=name)  # warm up
            torch.cuda.synchronize()
            started = time.perf_counter()
            engine.separate(song, lambda d, t: None, threading.Event(), model_id=name)
            torch.cuda.synchronize()
            ours = time.perf_counter() - started
            model = engine.models[name]
            wav = torch.from_numpy(song.audio)
            ref = wav.mean(0)
            started = time.perf_counter()
            with torch.inference_mode():
                apply_model(model, ((wav - ref.mean()) / (ref.std() + 1e-8))[None], shifts=0, split=True,
                            overlap=0.25, device="cuda")
            torch.cuda.synchronize()
            direct = time.perf_counter() - started
            say(f"{name} architecture, random weights, {seconds:g} s stereo: engine.separate {ours:.2f} s, "
                f"apply_model {direct:.2f} s, ratio {ours / direct:.3f}; {seconds / ours:.0f} audio seconds per "
                f"wall second; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
say("ok")
