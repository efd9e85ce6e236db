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

    def forced(self, prompt: torch.Tensor, takes: int) -> torch.Tensor:
        """(takes, K, max_delay + 1): the token codebook k must write at each of
        a window's first steps, where the prompt (or BOS before it) still holds
        one for a delayed codebook, as transformers' `apply_delay_pattern_mask`
        does; -1 where the model's draw is kept. `prompt`: (1 or takes, K, P)."""
        frames = prompt.shape[-1]
        out = torch.full((prompt.shape[0], self.num_codebooks, self.max_delay + 1), -1,
                         dtype=torch.long, device=prompt.device)
        for k, delay in enumerate(self.delays):
            for step in range(delay):
                index = frames + step - delay
                out[:, k, step] = prompt[:, k, index] if index >= 0 else self.bos
        return out.expand(takes, -1, -1)

    def ends(self, new_frames: int) -> list[int]:
        """For each codebook, the first step past the window's last frame (from
        there on it writes the end pad)."""
        return [new_frames + delay for delay in self.delays]

    def keep(self, drawn: torch.Tensor, forced: torch.Tensor, steps: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """The tokens each take writes at its own step: (takes, K) drawn, where
        the prompt (`forced`, from forced()) or the end pad overrides them.
        `steps`: (takes,) int64; `ends`: (takes, K), from ends(); on the device."""
        column = steps.clamp(max=self.max_delay)[:, None, None].expand(-1, self.num_codebooks, 1)
        prompt = forced.gather(-1, column)[..., 0]
        out = torch.where(prompt >= 0, prompt, drawn)
        return out.masked_fill(steps[:, None] >= ends, self.bos)

    def new_codes(self, grid: torch.Tensor, new_frames: int) -> torch.Tensor:
        """Un-stagger the kept tokens of every step, (rows, K, steps), into
        (rows, K, new_frames) codes."""
        return torch.stack(
            [grid[:, k, delay : delay + new_frames] for k, delay in enumerate(self.delays)], dim=1
        )
