"""MusicGen's delay pattern: codebook k is written `delay[k]` steps after
codebook 0, so the decoder's sequence is a staircase of the audio's codes.

A window's decoder sequence, per codebook k with delay d (P prompt frames, N new):

    position:  0 .. d        d+1 .. d+P        d+P+1 .. d+P+N
    token:     BOS ...       prompt codes      new codes

The prompt fills positions 0..P (BOS and the codes that fit); each decoding step
then predicts the next position for every codebook at once. Where the prompt
still holds a code for a delayed codebook (the first d steps) that code is kept,
and the model's choice is dropped, as transformers' `apply_delay_pattern_mask`
does. Mono checkpoints delay codebook k by k; stereo ones interleave left and
right codebooks and delay each pair together (k // 2), so a stereo window takes
N + 3 steps with 8 codebooks, not N + 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DelayPattern:
    delays: tuple[int, ...]
    bos: int

    @classmethod
    def for_model(cls, num_codebooks: int, audio_channels: int, bos: int) -> DelayPattern:
        # Stereo codebooks alternate left and right: each pair shares a delay.
        return cls(tuple(k // audio_channels for k in range(num_codebooks)), bos)

    @property
    def num_codebooks(self) -> int:
        return len(self.delays)

    @property
    def max_delay(self) -> int:
        return max(self.delays)

    def steps(self, new_frames: int) -> int:
        """Decoding steps (the prefill's included) that write `new_frames` frames."""
        return new_frames + self.max_delay

    def prefill(self, prompt: torch.Tensor) -> torch.Tensor:
        """(rows, K, P) prompt codes -> (rows, K, P + 1) decoder input."""
        rows, codebooks, frames = prompt.shape
        ids = torch.full((rows, codebooks, frames + 1), self.bos, dtype=torch.long, device=prompt.device)
        for k, delay in enumerate(self.delays):
            # position j holds code j - delay - 1
            ids[:, k, delay + 1 :] = prompt[:, k, : max(frames - delay, 0)]
        return ids

    def keep(self, step: int, prompt: torch.Tensor, drawn: torch.Tensor, new_frames: int) -> torch.Tensor:
        """The tokens at decoding step `step` (0 = the one the prefill predicts):
        (rows, K) drawn by the model, where the prompt or the end pad overrides them."""
        frames = prompt.shape[-1]
        out = drawn.clone()
        for k, delay in enumerate(self.delays):
            index = step - delay  # which new frame codebook k writes now
            if index < 0:  # still the prompt's (BOS before it starts)
                out[:, k] = prompt[:, k, frames + index] if frames + index >= 0 else self.bos
            elif index >= new_frames:
                out[:, k] = self.bos
        return out

    def new_codes(self, tokens: list[torch.Tensor], new_frames: int) -> torch.Tensor:
        """Un-stagger the kept tokens of every step into (rows, K, new_frames) codes."""
        grid = torch.stack(tokens, dim=-1)
        return torch.stack(
            [grid[:, k, delay : delay + new_frames] for k, delay in enumerate(self.delays)], dim=1
        )
