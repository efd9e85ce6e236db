"""Per-take seeded sampling of MusicGen's codes, on the logits' device.

Each take's random numbers are a function of its seed, the step and the
codebook (and the token), nothing else: a counter-based stream, hashed from
those counters rather than drawn from a generator's state. So a take's codes do
not depend on which other takes share its batch or in which order they were
asked (the same seed and knobs give the same take, alone or batched), and
drawing needs no generator per take and no trip to the host: guidance,
temperature, top-k and top-p mask the logits on the device, and the token is
the Gumbel-max choice, argmax(logits / temperature + Gumbel noise), which picks
each token with its softmax probability.

The hash is a 32-bit integer mixer (two multiply-xorshift rounds) computed in
int64 so that no product overflows, on any device. A uniform takes its top 24
bits, so it lies strictly inside (0, 1) in float32.
"""

from __future__ import annotations

import torch

_MASK = 0xFFFFFFFF
_MULTIPLIER = 0x45D9F3B  # < 2**27: a 32-bit value times it stays below 2**63


def mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash, elementwise, of int64 values in [0, 2**32)."""
    x = (((x >> 16) ^ x) * _MULTIPLIER) & _MASK
    x = (((x >> 16) ^ x) * _MULTIPLIER) & _MASK
    return (x >> 16) ^ x


def take_keys(seeds: list[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """One 32-bit key per take from its seed (0 to 2**63 - 1), (takes,) int64."""
    seeds64 = torch.tensor(seeds, dtype=torch.int64)
    low, high = seeds64 & _MASK, (seeds64 >> 32) & _MASK
    return mix(mix(low) ^ high).to(device)


def uniforms(keys: torch.Tensor, step: int, num_codebooks: int, vocab: int) -> torch.Tensor:
    """(takes, K, vocab) float32 uniforms in (0, 1) for one step: a function of
    each take's key, the step, the codebook and the token only."""
    device = keys.device
    counters = torch.arange(num_codebooks, device=device, dtype=torch.int64) + step * num_codebooks
    per_codebook = mix(keys[:, None] ^ mix(counters & _MASK)[None, :])  # (takes, K)
    tokens = mix(torch.arange(vocab, device=device, dtype=torch.int64) ^ 0x9E3779B9)
    bits = mix(per_codebook[:, :, None] ^ tokens[None, None, :]) >> 8  # 24 bits
    return (bits.to(torch.float32) + 0.5) * (1.0 / (1 << 24))


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
        self.seeds = list(seeds)
        self.num_codebooks = num_codebooks
        self.guidance = guidance
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.step = 0
        self._keys: torch.Tensor | None = None

    @property
    def takes(self) -> int:
        return len(self.seeds)

    @property
    def guided(self) -> bool:
        """Whether the batch carries an unconditional copy of every row."""
        return self.guidance > 1.0

    def draw(self, scores: torch.Tensor) -> torch.Tensor:
        """(rows * K, vocab) logits, rows = [conditional..., unconditional...] when
        guided -> (takes * K,) drawn tokens, on the logits' device. Each call is
        the next step."""
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
        if self._keys is None or self._keys.device != logits.device:
            self._keys = take_keys(self.seeds, logits.device)
        noise = uniforms(self._keys, self.step, self.num_codebooks, logits.shape[-1])
        self.step += 1
        gumbel = -torch.log(-torch.log(noise))
        return (logits + gumbel.reshape(logits.shape)).argmax(dim=-1)
