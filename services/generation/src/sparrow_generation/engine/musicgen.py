"""MusicGen through Hugging Face transformers: audio-prompted continuation.

Loads the checkpoints Meta released with audiocraft (facebook/musicgen-small,
-medium, -large, -stereo-*) by hub name or from a local folder. Continuations
longer than the model's window slide it, re-prompting with the tail of what is
written so far, as audiocraft's extend_stride does.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import snapshot_download
from transformers import AutoProcessor, MusicgenForConditionalGeneration

from sparrow_generation.domain import Continuation, Take
from sparrow_generation.engine.base import Cancelled, ModelUnavailable, StepCallback
from sparrow_generation.engine.sampling import SeededSampling, StepHook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """One generate() call: frames of prompt heard, frames of new audio written."""

    prompt_frames: int
    new_frames: int


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def locate(model_id: str) -> str:
    """A local folder holding the checkpoint: `model_id` itself when it is a
    folder, else the hub's cache, downloading into it when the hub can be reached.
    Fails in seconds, not after minutes of retries, when it can't."""
    if Path(model_id).is_dir():
        return model_id
    if model_id.startswith(("/", ".")):
        raise ModelUnavailable(f"could not load MusicGen model '{model_id}': no such folder")
    try:
        return snapshot_download(model_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached: try the hub
        pass
    host = urlparse(hf_constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as error:
        raise ModelUnavailable(
            f"could not load MusicGen model '{model_id}': it is not in the local cache and the Hugging Face hub "
            f"({host}) can't be reached ({error}). Set GENERATION_MODEL to a local folder holding the checkpoint."
        ) from None
    return snapshot_download(model_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])


def _refuse_melody(folder: str, model_id: str) -> None:
    config = Path(folder) / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("model_type") == "musicgen_melody":
        raise ModelUnavailable(
            f"'{model_id}' is a MusicGen melody checkpoint, which Sparrow does not support yet; "
            "use facebook/musicgen-small, -medium, -large or a -stereo variant"
        )


class MusicGenEngine:
    """Load once, then run batches of takes. Not thread-safe: one call at a time
    per engine (the server gives each slot its own thread and the engine a lock)."""

    def __init__(
        self,
        model_id: str,
        device: str = "auto",
        quantize: str = "none",
        window_s: float = 30.0,
        stride_s: float = 18.0,
    ):
        if not 0 < stride_s < window_s:
            raise ValueError("stride_s must be between 0 and window_s")
        self.model_id = model_id
        self.device = resolve_device(device)
        self.quantize = quantize
        self.window_s = window_s
        self.stride_s = stride_s
        self.model = None
        self.processor = None
        self.sample_rate = 0
        self.channels = 0
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------

    def load(self) -> None:
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        try:
            folder = locate(self.model_id)
            _refuse_melody(folder, self.model_id)
            processor = AutoProcessor.from_pretrained(folder)
            model = MusicgenForConditionalGeneration.from_pretrained(folder, dtype=dtype)
        except ModelUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - every cause becomes the same clear reason
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelUnavailable(
                f"could not load MusicGen model '{self.model_id}': {first_line}. Set GENERATION_MODEL "
                "to a local folder holding the checkpoint, or give this machine access to the Hugging Face hub."
            ) from error
        model.to(self.device).eval()
        if self.quantize == "int8":
            if self.device != "cpu":
                raise ModelUnavailable("int8 quantization runs on the CPU only; unset GENERATION_QUANTIZE on GPU")
            model.decoder = torch.ao.quantization.quantize_dynamic(
                model.decoder, {torch.nn.Linear}, dtype=torch.qint8
            )
        elif self.quantize != "none":
            raise ModelUnavailable(f"unknown GENERATION_QUANTIZE '{self.quantize}' (use none or int8)")
        audio_config = model.config.audio_encoder
        self.sample_rate = audio_config.sampling_rate
        # Stereo checkpoints run a mono EnCodec per channel; the decoder knows how many.
        self.channels = model.config.decoder.audio_channels
        self.frame_rate = audio_config.frame_rate
        self.hop = int(np.prod(audio_config.upsampling_ratios))
        self.num_codebooks = model.decoder.num_codebooks
        self.model, self.processor = model, processor
        log.info("loaded %s on %s (%d Hz, %d channel(s))", self.model_id, self.device, self.sample_rate, self.channels)

    # -- planning -------------------------------------------------------------

    def plan(self, context_frames: int, request: Continuation) -> list[Segment]:
        """The generate() calls that write request.params.duration_s seconds."""
        window = int(self.window_s * self.frame_rate)
        stride = int(self.stride_s * self.frame_rate)
        remaining = math.ceil(request.params.duration_s * self.frame_rate)
        wanted = round(request.params.prompt_duration_s * self.frame_rate)
        available = context_frames
        segments: list[Segment] = []
        while remaining > 0:
            prompt = min(wanted if not segments else window - stride, available)
            # Leave room in the window for at least a stride of new audio.
            prompt = min(prompt, window - min(remaining, stride))
            new = min(remaining, window - prompt)
            segments.append(Segment(prompt, new))
            remaining -= new
            available += new
        return segments

    def total_steps(self, request: Continuation) -> int:
        frames = request.context.shape[-1] // self.hop
        # The codebooks' delay pattern costs num_codebooks - 1 extra steps per call.
        return sum(s.new_frames + self.num_codebooks - 1 for s in self.plan(frames, request))

    # -- generation -----------------------------------------------------------

    def generate(self, request: Continuation, on_step: StepCallback, cancel: threading.Event) -> list[Take]:
        if self.model is None:
            raise ModelUnavailable(f"model '{self.model_id}' is not loaded")
        with self._lock, torch.inference_mode():
            return self._generate(request, on_step, cancel)

    def _generate(self, request: Continuation, on_step: StepCallback, cancel: threading.Event) -> list[Take]:
        params = request.params
        context = np.asarray(request.context, dtype=np.float32)
        segments = self.plan(context.shape[-1] // self.hop, request)
        total = sum(s.new_frames + self.num_codebooks - 1 for s in segments)
        sampler = SeededSampling(
            list(request.seeds), self.num_codebooks, params.cfg_coef, params.temperature, params.top_k, params.top_p
        )
        histories = [context] * len(request.seeds)
        written: list[list[np.ndarray]] = [[] for _ in request.seeds]
        done = 0
        for segment in segments:
            prompt_samples = segment.prompt_frames * self.hop
            prompts = [h[:, h.shape[-1] - prompt_samples :] for h in histories] if prompt_samples else None
            steps = segment.new_frames + self.num_codebooks - 1
            hook = StepHook(on_step, cancel, done, total)
            try:
                output = self.model.generate(
                    **self._inputs(request.description, prompts, len(request.seeds)),
                    do_sample=False,
                    guidance_scale=params.cfg_coef,
                    max_new_tokens=steps,
                    logits_processor=[sampler],
                    stopping_criteria=[hook],
                )
            except RuntimeError:
                # Stopped mid-pattern, transformers can't reshape the codes; expected.
                if cancel.is_set():
                    raise Cancelled() from None
                raise
            if cancel.is_set():
                raise Cancelled()
            done += steps
            audio = output.float().cpu().numpy()
            for take in range(len(request.seeds)):
                new = audio[take, :, prompt_samples : prompt_samples + segment.new_frames * self.hop]
                written[take].append(new)
                histories[take] = np.concatenate([histories[take], new], axis=-1)
        length = round(params.duration_s * self.sample_rate)
        return [
            Take(seed=seed, audio=np.concatenate(parts, axis=-1)[:, :length], sample_rate=self.sample_rate)
            for seed, parts in zip(request.seeds, written, strict=True)
        ]

    def _inputs(self, description: str, prompts: list[np.ndarray] | None, batch: int) -> dict:
        audio = None
        if prompts is not None:
            # The feature extractor wants (samples,) for mono and (2, samples) for stereo.
            audio = [p[0] if self.channels == 1 else p for p in prompts]
        inputs = self.processor(
            text=[description] * batch,
            audio=audio,
            sampling_rate=self.sample_rate if audio is not None else None,
            padding=True,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in inputs.items()}
