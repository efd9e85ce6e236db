"""Per-take seeded sampling of MusicGen's codes.

Each take draws its tokens from its own torch.Generator, seeded by the take's
seed, so a take's audio does not depend on which other takes share its batch:
the same seed and knobs give the same take, alone or batched. Classifier-free
guidance, temperature, top-k and top-p are applied to the whole batch at once.
"""

from __future__ import annotations

import torch


class TakeSampler:
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

    @property
    def guided(self) -> bool:
        """Whether the batch carries an unconditional copy of every row."""
        return self.guidance > 1.0

    def draw(self, scores: torch.Tensor) -> torch.Tensor:
        """(rows * K, vocab) logits, rows = [conditional..., unconditional...] when
        guided -> (takes * K,) drawn tokens, on the logits' device."""
        logits = scores.float()
        if self.guided:
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
        return chosen.to(scores.device)
