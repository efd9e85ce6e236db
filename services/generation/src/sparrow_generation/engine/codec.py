"""EnCodec around the decoder: audio to codes for the prompt, codes to audio for
the take, and the join between the parent's last sample and the take's first.

Stereo checkpoints run one mono EnCodec per channel and interleave their
codebooks (left, right, left, ...), as transformers' MusicGen does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils import parametrize

# Frames of the prompt's codes decoded before the new ones, so the take's first
# samples come out as they would from a decode of the whole window (EnCodec's
# convolutions and LSTM look back about this far).
LEFT_CONTEXT_FRAMES = 25
# The seam's correction fades out over this long (10 ms).
SEAM_S = 0.010


class Codec:
    def __init__(self, encodec: torch.nn.Module, channels: int, hop: int):
        self.encodec = fold_weight_norm(encodec)
        self.channels = channels
        self.hop = hop

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.encodec.parameters()).dtype

    @property
    def _device(self) -> torch.device:
        return next(self.encodec.parameters()).device

    def encode(self, audio: np.ndarray) -> torch.Tensor:
        """(channels, samples) at the model's rate, a whole number of frames ->
        (1, K, frames) codes."""
        values = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        values = values.to(self._device, self._dtype)
        per_channel = [
            self.encodec.encode(values[:, c : c + 1], bandwidth=None).audio_codes[0]
            for c in range(self.channels)
        ]
        if self.channels == 1:
            return per_channel[0]
        left, right = per_channel
        codes = left.new_empty((left.shape[0], 2 * left.shape[1], left.shape[2]))
        codes[:, ::2], codes[:, 1::2] = left, right
        return codes

    def decode(self, codes: torch.Tensor) -> np.ndarray:
        """(takes, K, frames) codes -> (takes, channels, frames * hop) float32 audio.

        One take at a time: on the CPU, EnCodec's convolutions and LSTM decode
        four takes in a batch slower than one after another (3.1 s against
        1.9 s for four 4 s takes of musicgen-small), and a take decoded alone
        comes out the same whatever else was asked with it."""
        return np.stack([self._decode_one(take[None]) for take in codes])

    def _decode_one(self, codes: torch.Tensor) -> np.ndarray:
        parts = [codes] if self.channels == 1 else [codes[:, ::2], codes[:, 1::2]]
        audio = torch.cat([self.encodec.decode(part[None], audio_scales=[None]).audio_values for part in parts], dim=1)
        return audio[0].float().cpu().numpy()


def fold_weight_norm(module: torch.nn.Module) -> torch.nn.Module:
    """EnCodec's convolutions carry weight norm, which recomputes each weight
    from its direction and scale on every call (a tenth of a take's decode on
    the CPU); computed once here, the weights and the audio are the same."""
    for child in module.modules():
        if parametrize.is_parametrized(child, "weight"):
            parametrize.remove_parametrizations(child, "weight", leave_parametrized=True)
    return module


def join(parent_tail: np.ndarray, reconstruction_tail: np.ndarray, take: np.ndarray, sample_rate: int) -> np.ndarray:
    """The take, starting where the parent ends.

    The take continues EnCodec's reconstruction of the prompt, not the prompt
    itself, so its first sample sits as far from the parent's last as the
    reconstruction does: a click. Adding that offset at the seam and fading it
    out over SEAM_S (a raised cosine) moves the take's start onto the parent's
    last sample plus the reconstruction's own next step, while the take's body
    stays as the model wrote it. (channels, samples) each; the tails are the
    last sample of the parent and of its reconstruction, (channels,)."""
    length = min(take.shape[-1], max(1, round(SEAM_S * sample_rate)))
    offset = (parent_tail - reconstruction_tail)[:, None]
    fade = 0.5 * (1 + np.cos(np.pi * np.arange(length) / length))
    out = take.astype(np.float32, copy=True)
    out[:, :length] += (offset * fade).astype(np.float32)
    return out
