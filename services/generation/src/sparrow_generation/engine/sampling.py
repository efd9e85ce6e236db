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

from dataclasses import dataclass

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


def uniforms(keys: torch.Tensor, steps: torch.Tensor, num_codebooks: int, vocab: int) -> torch.Tensor:
    """(takes, K, vocab) float32 uniforms in (0, 1), each take at its own step
    ((takes,) int64): a function of the take's key, its step, the codebook and
    the token only."""
    device = keys.device
    counters = torch.arange(num_codebooks, device=device, dtype=torch.int64) + steps[:, None] * num_codebooks
    per_codebook = mix(keys[:, None] ^ mix(counters & _MASK))  # (takes, K)
    tokens = mix(torch.arange(vocab, device=device, dtype=torch.int64) ^ 0x9E3779B9)
    bits = mix(per_codebook[:, :, None] ^ tokens[None, None, :]) >> 8  # 24 bits
    return (bits.to(torch.float32) + 0.5) * (1.0 / (1 << 24))


@dataclass(frozen=True)
class Sampling:
    """Each take's sampling knobs, one entry per take, on the device: takes of
    different requests, with their own knobs, draw in one call."""

    keys: torch.Tensor  # (takes,) int64, from take_keys
    guidance: torch.Tensor  # (takes, 1, 1) float32
    guided: torch.Tensor  # (takes, 1, 1) bool: guidance > 1, the take has an unconditional row
    temperature: torch.Tensor  # (takes, 1, 1) float32
    top_k: torch.Tensor  # (takes, 1, 1) int64, 0: no cut
    top_p: torch.Tensor  # (takes, 1, 1) float32, outside (0, 1): no cut
    # Known on the host, so that a draw never asks the device.
    max_top_k: int
    any_top_p: bool

    @classmethod
    def for_takes(
        cls, seeds: list[int], guidance: float, temperature: float, top_k: int, top_p: float, device="cpu"
    ) -> Sampling:
        """The knobs of one request's takes (every take shares them)."""
        takes = len(seeds)

        def column(value, dtype):
            return torch.full((takes, 1, 1), value, dtype=dtype, device=device)

        return cls(
            keys=take_keys(seeds, device),
            guidance=column(guidance, torch.float32),
            guided=column(guidance > 1.0, torch.bool),
            temperature=column(temperature, torch.float32),
            top_k=column(top_k, torch.int64),
            top_p=column(top_p, torch.float32),
            max_top_k=top_k,
            any_top_p=0.0 < top_p < 1.0,
        )

    @classmethod
    def join(cls, parts: list[Sampling]) -> Sampling:
        """The takes of several requests, in order."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            *(torch.cat([getattr(p, name) for p in parts]) for name in
              ("keys", "guidance", "guided", "temperature", "top_k", "top_p")),
            max_top_k=max(p.max_top_k for p in parts),
            any_top_p=any(p.any_top_p for p in parts),
        )


def draw(cond: torch.Tensor, uncond: torch.Tensor, sampling: Sampling, steps: torch.Tensor) -> torch.Tensor:
    """One token per take and codebook: (takes, K, vocab) conditional logits and
    the unconditional ones (the same rows for a take without guidance), each
    take at its own step ((takes,) int64) -> (takes, K) tokens, on the logits'
    device. Every operation is per take, so a take draws the same tokens
    whatever else is drawn with it."""
    cond = cond.float()
    mixed = uncond.float()
    mixed = mixed + (cond - mixed) * sampling.guidance
    logits = torch.where(sampling.guided, mixed, cond)
    logits = logits / sampling.temperature
    vocab = logits.shape[-1]
    if sampling.max_top_k > 0:
        # The k-th largest of each take's own k (topk's values are sorted), none where k is 0.
        largest = torch.topk(logits, min(sampling.max_top_k, vocab), dim=-1).values
        index = (sampling.top_k.clamp(1, largest.shape[-1]) - 1).expand(*logits.shape[:-1], 1)
        kth = largest.gather(-1, index)
        kth = torch.where(sampling.top_k > 0, kth, torch.full_like(kth, float("-inf")))
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.any_top_p:
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = ordered.softmax(-1).cumsum(-1)
        top_p = torch.where((sampling.top_p > 0.0) & (sampling.top_p < 1.0), sampling.top_p, torch.full_like(sampling.top_p, 2.0))
        drop = cumulative - ordered.softmax(-1) > top_p  # keep the token that crosses top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    noise = uniforms(sampling.keys, steps, logits.shape[1], vocab)
    gumbel = -torch.log(-torch.log(noise))
    return (logits + gumbel).argmax(dim=-1)
