"""MusicGen continuation on transformers' modules, with Sparrow's own decoding loop.

Loads the checkpoints Meta released with audiocraft (facebook/musicgen-small,
-medium, -large, -stereo-*, -melody*) by hub name or from a local folder, and
audiocraft-format fine-tunes (engine/audiocraft.py). A call:

1. hears the description (T5; a melody's chroma on melody checkpoints) once;
2. encodes the prompt (the tail of the context) to EnCodec codes once;
3. hands each window of new codes to the device's scheduler, which prefills
   its prompt once for all takes and steps them together with every other
   request's takes in flight (engine/scheduler.py, engine/rows.py);
4. past the model's window, prompts the next window with the last
   `window - stride` seconds of each take's own codes, as audiocraft's
   extend_stride does, never re-encoding decoded audio;
5. decodes each take's new codes once, with a little of the prompt's codes as
   left context, and joins the take's start onto the parent's last sample
   (engine/codec.py).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
from sparrow_common.errors import InvalidArgument
from sparrow_common.engine import MELODY_CHECKPOINTS

from sparrow_generation.domain import Continuation, Take
from sparrow_generation.engine.base import ModelUnavailable, StepCallback
from sparrow_generation.engine.chroma import MelodyChroma
from sparrow_generation.engine.codec import LEFT_CONTEXT_FRAMES, Codec, join
from sparrow_generation.engine.conditioning import Conditioner
from sparrow_generation.engine.loading import Precision, apply_precision, load_checkpoint, resolve_device
from sparrow_generation.engine.pattern import DelayPattern
from sparrow_generation.engine.sampling import Sampling
from sparrow_generation.engine.scheduler import Scheduler, Window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """One window: frames of prompt heard, frames of new audio written."""

    prompt_frames: int
    new_frames: int


class MusicGenEngine:
    """Load once, then run calls from many threads at once: each call's windows
    join the scheduler's step loop, which owns the decoder on its device's thread
    (the thread that loaded the model: sparrow_common.model.load_in_background
    says why)."""

    def __init__(
        self,
        model_id: str,
        device: str = "auto",
        quantize: str = "auto",
        window_s: float = 30.0,
        stride_s: float = 18.0,
        dtype: str = "auto",
        cuda_graphs: bool = True,
    ):
        if not 0 < stride_s < window_s:
            raise ValueError("stride_s must be between 0 and window_s")
        self.model_id = model_id
        self.device = resolve_device(device)
        self.quantize = quantize
        self.dtype = dtype
        self.window_s = window_s
        self.stride_s = stride_s
        self.cuda_graphs = cuda_graphs
        self.model = None
        self.precision: Precision | None = None
        self.sample_rate = 0
        self.channels = 0
        self.supports_melody = False
        self.scheduler: Scheduler | None = None

    # -- lifecycle ------------------------------------------------------------

    def load(self) -> None:
        if self.scheduler is None:
            self.scheduler = Scheduler(f"decoder-{self.device}")
        self.scheduler.call(self._load)

    def _load(self) -> None:
        self.precision = Precision.resolve(self.device, self.dtype, self.quantize)
        model, tokenizer, folder = load_checkpoint(self.model_id)
        model = apply_precision(model, self.device, self.precision)
        audio_config = model.config.audio_encoder
        self.sample_rate = audio_config.sampling_rate
        # Stereo checkpoints run a mono EnCodec per channel; the decoder knows how many.
        self.channels = model.config.decoder.audio_channels
        self.frame_rate = audio_config.frame_rate
        self.hop = int(np.prod(audio_config.upsampling_ratios))
        self.num_codebooks = model.decoder.num_codebooks
        self.pattern = DelayPattern.for_model(
            self.num_codebooks, self.channels, model.generation_config.decoder_start_token_id
            if model.generation_config.decoder_start_token_id is not None else model.config.decoder.bos_token_id
        )
        self.codec = Codec(model.audio_encoder, self.channels, self.hop)
        self.scheduler.attach(model.decoder, self.pattern, self.device, self.cuda_graphs)
        self.conditioner = Conditioner(model, tokenizer, self.device, self.precision.decoder)
        self.supports_melody = self.conditioner.melody
        self.chroma = MelodyChroma.from_pretrained(folder) if self.supports_melody else None
        self.model = model
        log.info(
            "loaded %s on %s (%d Hz, %d channel(s)%s; %s)", self.model_id, self.device, self.sample_rate,
            self.channels, ", melody" if self.supports_melody else "", self.precision,
        )

    @property
    def rows_in_flight(self) -> int:
        return self.scheduler.rows_in_flight if self.scheduler else 0

    @property
    def steps(self) -> int:
        return self.scheduler.steps if self.scheduler else 0

    @property
    def steps_per_second(self) -> float:
        return self.scheduler.steps_per_second if self.scheduler else 0.0

    # -- planning -------------------------------------------------------------

    def plan(self, context_frames: int, request: Continuation) -> list[Segment]:
        """The windows that write request.knobs.duration_s seconds."""
        window = int(self.window_s * self.frame_rate)
        stride = int(self.stride_s * self.frame_rate)
        remaining = math.ceil(request.knobs.duration_s * self.frame_rate)
        wanted = round(request.knobs.prompt_duration_s * self.frame_rate)
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
        return sum(self.pattern.steps(s.new_frames) for s in self.plan(frames, request))

    # -- generation -----------------------------------------------------------

    def generate(self, request: Continuation, on_step: StepCallback, cancel: threading.Event) -> list[Take]:
        if self.model is None:
            raise ModelUnavailable(f"model '{self.model_id}' is not loaded")
        with torch.inference_mode():
            return self._generate(request, on_step, cancel)

    def write_codes(
        self, request: Continuation, on_step: StepCallback, cancel: threading.Event
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the prompt's codes (1, K, P), every take's new codes (takes, K, N))."""
        knobs = request.knobs
        context = np.asarray(request.context, dtype=np.float32)
        segments = self.plan(context.shape[-1] // self.hop, request)
        total = sum(self.pattern.steps(s.new_frames) for s in segments)
        takes = len(request.seeds)
        guided = knobs.cfg_coef > 1.0
        sampling = Sampling.for_takes(
            list(request.seeds), knobs.cfg_coef, knobs.temperature, knobs.top_k, knobs.top_p, self.device
        )
        conditioning = self._conditioning(request, guided, 0)
        first = segments[0].prompt_frames
        if first:
            prompt = self.codec.encode(context[:, context.shape[-1] - first * self.hop :])
        else:
            prompt = torch.empty((1, self.num_codebooks, 0), dtype=torch.long, device=self.device)
        history = prompt.expand(takes, -1, -1)
        written: list[torch.Tensor] = []
        done = 0
        for index, segment in enumerate(segments):
            if index == 0:
                window_prompt, heard = prompt, conditioning
            else:  # each take hears its own codes so far
                window_prompt = history[:, :, history.shape[-1] - segment.prompt_frames :]
                if request.melody is not None:  # and the melody from where this window starts
                    conditioning = self._conditioning(request, guided, history.shape[-1] - segment.prompt_frames)
                heard = conditioning.repeat(takes) if takes > 1 else conditioning
            window = Window(
                window_prompt, segment.new_frames, heard, sampling, guided, first_step=done,
                on_step=lambda step, offset=done: on_step(offset + step, total), cancel=cancel,
            )
            new = self.scheduler.submit(window).result()
            done += self.pattern.steps(segment.new_frames)
            written.append(new)
            history = torch.cat([history, new], dim=-1)
        return prompt, torch.cat(written, dim=-1)

    def _conditioning(self, request: Continuation, guided: bool, start_frame: int):
        chroma = None
        if request.melody is not None:
            if self.chroma is None:
                raise InvalidArgument(
                    f"'{self.model_id}' can't be conditioned on a melody; load a melody checkpoint ({MELODY_CHECKPOINTS})"
                )
            # The melody's time 0 is where the first window starts (its prompt's start).
            chroma = self.chroma.for_window(request.melody, self.sample_rate, start_frame / self.frame_rate)
        return self.conditioner(request.description, guided, chroma)

    def _generate(self, request: Continuation, on_step: StepCallback, cancel: threading.Event) -> list[Take]:
        prompt, new = self.write_codes(request, on_step, cancel)
        takes = new.shape[0]
        left = min(LEFT_CONTEXT_FRAMES, prompt.shape[-1])
        audio = self.codec.decode(torch.cat([prompt[:, :, prompt.shape[-1] - left :].expand(takes, -1, -1), new], -1))
        length = round(request.knobs.duration_s * self.sample_rate)
        start = left * self.hop
        results = []
        for seed, decoded in zip(request.seeds, audio, strict=True):
            take = decoded[:, start : start + length]
            if left:
                take = join(request.context[:, -1], decoded[:, start - 1], take, self.sample_rate)
            results.append(Take(seed=seed, audio=take, sample_rate=self.sample_rate))
        return results
