"""A window's prefill, and what the decoder hears besides the codes.

A window's prompt is prefilled once through transformers' own decoder: one
conditional and one unconditional row when every take continues the same prompt
(a window that starts from the parent), or a pair per take (later windows of a
long take, each hearing its own codes). Its keys and values are then copied
into the rows of every take (engine/rows.py), where the steps go on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache


@dataclass(frozen=True)
class Conditioning:
    """What the decoder hears besides the codes, one row per decoder row.

    MusicGen attends to the text through cross-attention on every step
    (`hidden` and its `mask`); MusicGen melody puts the chroma and the text in
    front of the codes instead (`prefix`): heard by the prefill, then kept in
    the cache."""

    hidden: torch.Tensor
    mask: torch.Tensor | None
    prefix: bool

    def repeat(self, takes: int) -> Conditioning:
        """[cond, uncond] -> [cond x takes, uncond x takes]."""
        mask = None if self.mask is None else self.mask.repeat_interleave(takes, dim=0)
        return replace(self, hidden=self.hidden.repeat_interleave(takes, dim=0), mask=mask)

    def arguments(self) -> dict:
        """What the prefill passes the decoder."""
        if self.prefix:
            return {"encoder_hidden_states": self.hidden}
        return {"encoder_hidden_states": self.hidden, "encoder_attention_mask": self.mask}


class Prefill:
    """A window's prompt through transformers' decoder, once: its first logits,
    and the cache the rows' slots are filled from (engine/rows.py)."""

    def __init__(self, decoder: torch.nn.Module):
        # MusicgenForCausalLM or MusicgenMelodyForCausalLM: .model is the
        # transformer, .lm_heads one head per codebook.
        decoder.set_attn_implementation("sdpa")
        self.transformer = decoder.model
        self.lm_heads = decoder.lm_heads

    def __call__(self, ids: torch.Tensor, conditioning: Conditioning) -> tuple[torch.Tensor, EncoderDecoderCache]:
        """(rows, K, seq) ids, conditioning with one row per row -> the last
        position's logits (rows, K, vocab) and the filled cache."""
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        out = self.transformer(
            input_ids=ids.reshape(-1, ids.shape[-1]), cache=cache, use_cache=True, **conditioning.arguments(),
        )
        last = out.last_hidden_state[:, -1]
        return torch.stack([head(last) for head in self.lm_heads], dim=1), cache
