"""Per-take seeded sampling and a per-step hook for transformers' generate().

transformers samples a whole batch from one global RNG, so a take's audio would
depend on which other takes shared its batch. SeededSampling draws each take's
tokens from its own torch.Generator instead, applying classifier-free guidance,
temperature, top-k and top-p itself, and hands generate() logits where only the
drawn token is possible; greedy decoding then keeps exactly that token. The same
seed and parameters therefore give the same take, batched or not.
"""

from __future__ import annotations

import threading

import torch
from transformers import LogitsProcessor, StoppingCriteria

# Finite, so guidance arithmetic on two copies of it stays finite.
_IMPOSSIBLE = -1e4


class SeededSampling(LogitsProcessor):
    def __init__(
        self,
        seeds: list[int],
        num_codebooks: int,
        guidance: float,
        temperature: float,
        top_k: int,
        top_p: float,
    ):
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.num_codebooks = num_codebooks
        self.guidance = guidance
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float()
        guided = self.guidance > 1.0
        if guided:  # rows are [conditional..., unconditional...]
            cond, uncond = logits.chunk(2, dim=0)
            logits = uncond + (cond - uncond) * self.guidance
        logits = logits / self.temperature
        if self.top_k > 0:
            kth = torch.topk(logits, min(self.top_k, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if 0.0 < self.top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True, dim=-1)
            cumulative = ordered.softmax(-1).cumsum(-1)
            drop = cumulative - ordered.softmax(-1) > self.top_p  # keep the token that crosses top_p
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        probs = logits.softmax(-1).cpu()
        chosen = torch.empty(probs.shape[0], dtype=torch.long)
        for take, generator in enumerate(self.generators):
            rows = slice(take * self.num_codebooks, (take + 1) * self.num_codebooks)
            chosen[rows] = torch.multinomial(probs[rows], 1, generator=generator).squeeze(-1)
        forced = torch.full_like(scores, _IMPOSSIBLE)
        half = forced[: chosen.shape[0]] if guided else forced
        half.scatter_(-1, chosen.to(scores.device).unsqueeze(-1), 0.0)
        if guided:
            forced[chosen.shape[0] :] = half
        return forced


class StepHook(StoppingCriteria):
    """Reports each decoding step and stops generate() when the call is cancelled."""

    def __init__(self, on_step, cancel: threading.Event, offset: int, total: int):
        self.on_step = on_step
        self.cancel = cancel
        self.step = offset
        self.total = total

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        self.step += 1
        self.on_step(min(self.step, self.total), self.total)
        stop = self.cancel.is_set()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
