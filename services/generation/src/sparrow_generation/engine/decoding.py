"""Sparrow's own decoding loop over transformers' MusicGen decoder and lm heads.

One window: the prompt's codes are prefilled, then each step feeds the tokens
just written and draws the next ones for every take at once. When every take
continues the same prompt (a window that starts from the parent), the prompt is
prefilled once, for one conditional and one unconditional row, and every
take's steps attend to that one copy (engine/attention.py); later windows of a long take have a
prompt of their own per take and prefill them together.

Rows are laid out as transformers' MusicGen lays them out, so the codes are the
ones `generate()` writes: the takes' conditional rows, then (with guidance) the
takes' unconditional rows, each row carrying all codebooks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from sparrow_common.model import Cancelled

from sparrow_generation.engine import attention
from sparrow_generation.engine.pattern import DelayPattern
from sparrow_generation.engine.sampling import TakeSampler

# Called after each step: how many steps of this window are done.
OnStep = Callable[[int], None]


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

    def arguments(self, prefill: bool) -> dict:
        if self.prefix:
            return {"encoder_hidden_states": self.hidden} if prefill else {}
        return {"encoder_hidden_states": self.hidden, "encoder_attention_mask": self.mask}


class WindowDecoder:
    """Writes one window of new codes for every take of a batch."""

    def __init__(self, decoder: torch.nn.Module, pattern: DelayPattern):
        # MusicgenForCausalLM or MusicgenMelodyForCausalLM: .model is the
        # transformer, .lm_heads one head per codebook.
        decoder.set_attn_implementation(attention.NAME)
        self.transformer = decoder.model
        self.lm_heads = decoder.lm_heads
        self.pattern = pattern

    def _steps_cache(self, prefilled: EncoderDecoderCache, rows: int, steps: int) -> EncoderDecoderCache:
        """The cache the steps write: the prefill's keys and values kept once per
        prefilled row (engine/attention.py), with room for `steps` more per row.
        The cross-attention's keys and values (the text) are copied to every row."""
        cross = prefilled.cross_attention_cache
        prefilled_rows = prefilled.self_attention_cache.layers[0].keys.shape[0]
        if rows > prefilled_rows and cross.get_seq_length() > 0:
            cross.batch_repeat_interleave(rows // prefilled_rows)
        return EncoderDecoderCache(attention.PrefixedCache(prefilled.self_attention_cache, rows, steps), cross)

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(rows, seq, d) -> the last position's logits, (rows * K, vocab)."""
        last = hidden[:, -1]
        return torch.stack([head(last) for head in self.lm_heads], dim=1).reshape(-1, self.lm_heads[0].out_features)

    def _forward(self, ids: torch.Tensor, cache, conditioning: Conditioning, prefill: bool) -> torch.Tensor:
        """(rows, K, seq) ids -> the last position's logits."""
        steps = {} if prefill else {"prefixed": cache.self_attention_cache}
        out = self.transformer(
            input_ids=ids.reshape(-1, ids.shape[-1]), cache=cache, use_cache=True,
            **conditioning.arguments(prefill), **steps,
        )
        return self._logits(out.last_hidden_state)

    def write(
        self,
        prompt: torch.Tensor,
        new_frames: int,
        conditioning: Conditioning,
        sampler: TakeSampler,
        on_step: OnStep,
        cancel: threading.Event,
    ) -> torch.Tensor:
        """`prompt`: (1, K, P) shared by every take, or (takes, K, P) one each;
        `conditioning` has one row (two with guidance) or one per take's row.
        Returns (takes, K, new_frames) codes."""
        takes = sampler.takes
        pattern = self.pattern
        guided = sampler.guided
        shared = prompt.shape[0] == 1 and takes > 1
        ids = pattern.prefill(prompt)
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        logits = self._forward(torch.cat([ids, ids]) if guided else ids, cache, conditioning, prefill=True)
        total = pattern.steps(new_frames)
        rows = takes * (2 if guided else 1)
        cache = self._steps_cache(cache, rows, total - 1)
        if shared:
            # One prefill for every take: its cache and logits go to each take's rows.
            groups = 2 if guided else 1
            logits = logits.view(groups, -1, logits.shape[-1]).repeat_interleave(takes, dim=0)
            logits = logits.reshape(-1, logits.shape[-1])
            conditioning = conditioning.repeat(takes)
            prompt = prompt.expand(takes, -1, -1)
        tokens: list[torch.Tensor] = []
        for step in range(total):
            drawn = sampler.draw(logits).view(takes, pattern.num_codebooks)
            kept = pattern.keep(step, prompt, drawn, new_frames)
            tokens.append(kept)
            on_step(step + 1)
            if cancel.is_set():
                raise Cancelled()
            if step + 1 == total:
                break
            step_ids = kept[..., None]
            logits = self._forward(
                torch.cat([step_ids, step_ids]) if guided else step_ids, cache, conditioning, prefill=False
            )
        return pattern.new_codes(tokens, new_frames)
