"""A melody's chroma, as musicgen-melody hears it, without torchaudio.

The melody checkpoints are steered by a chromagram: for each STFT frame (4096
samples at 32 kHz, 128 ms) the one pitch class that sounds loudest, as a one-hot
row. transformers computes it in `MusicgenMelodyFeatureExtractor`, which needs
torchaudio for its spectrogram; Sparrow doesn't ship torchaudio, so this module
computes the same `input_features` with `torch.stft` and transformers' own
chroma filter bank, from the extractor's saved `preprocessor_config.json`.

`MelodyChroma(melody, rate)` equals the extractor's output for one melody: the
channels averaged to mono, cut to `chunk_length` seconds, a melody shorter than
one FFT padded with silence on both sides. The model itself then repeats a short
chroma (or cuts a long one) to its `chroma_length` frames.

Unlike audiocraft, nothing here removes drums and bass first: audiocraft runs
Demucs on every melody and keeps only vocals + other, because drums and bass
would otherwise win the argmax. A caller that has stems should sum those two
before calling this (transformers' `stem_indices`, [3, 2] for htdemucs).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from sparrow_common.errors import InvalidArgument
from transformers.audio_utils import chroma_filter_bank
from transformers.feature_extraction_utils import FeatureExtractionMixin


@dataclass(frozen=True)
class MelodyChroma:
    """The chroma extractor of one melody checkpoint; build once, call per melody."""

    sampling_rate: int
    n_fft: int
    hop_length: int
    chunk_length: int
    filters: torch.Tensor  # (n_chroma, n_fft // 2 + 1)
    window: torch.Tensor  # periodic Hann, n_fft long

    @classmethod
    def from_config(cls, config: dict) -> MelodyChroma:
        """From the extractor's saved config (the contents of `preprocessor_config.json`).
        Missing keys take the extractor's own defaults, as transformers would."""
        rate = int(config.get("sampling_rate", 32000))
        n_fft = int(config.get("n_fft", 16384))
        # The extractor builds its filter bank from `num_chroma` (default 12), not from
        # `feature_size`, which it only stores.
        n_chroma = int(config.get("num_chroma", 12))
        filters = chroma_filter_bank(
            sampling_rate=rate, num_frequency_bins=n_fft, tuning=0, num_chroma=n_chroma
        )
        return cls(
            sampling_rate=rate,
            n_fft=n_fft,
            hop_length=int(config.get("hop_length", 4096)),
            chunk_length=int(config.get("chunk_length", 30)),
            filters=torch.from_numpy(filters).float(),
            window=torch.hann_window(n_fft),
        )

    @classmethod
    def from_pretrained(cls, name_or_folder: str | os.PathLike, **hub_kwargs) -> MelodyChroma:
        """From a melody checkpoint's hub name or local folder (its `preprocessor_config.json`);
        `hub_kwargs` (cache_dir, local_files_only, revision, token) go to the hub lookup."""
        config, _ = FeatureExtractionMixin.get_feature_extractor_dict(name_or_folder, **hub_kwargs)
        return cls.from_config(config)

    @property
    def n_chroma(self) -> int:
        return self.filters.shape[0]

    @property
    def max_samples(self) -> int:
        """The longest melody heard; later samples are cut (30 s on the released models)."""
        return self.chunk_length * self.sampling_rate

    def __call__(self, melody: np.ndarray, sample_rate: int) -> torch.Tensor:
        """(samples,) or (channels, samples) float audio at the model's rate ->
        (1, frames, n_chroma) float32 one-hot chroma, on the CPU: the model's `input_features`."""
        wave = self._mono(melody, sample_rate)[: self.max_samples]
        if wave.shape[-1] < self.n_fft:  # too short for one frame: centre it in silence
            pad = self.n_fft - wave.shape[-1]
            wave = torch.nn.functional.pad(wave, (pad // 2, pad - pad // 2))
        spectrum = torch.stft(
            wave[None], self.n_fft, hop_length=self.hop_length, win_length=self.n_fft, window=self.window,
            center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
        )
        # torchaudio's normalized=True: divide by the window's L2 norm before squaring.
        power = (spectrum / self.window.pow(2.0).sum().sqrt()).abs().pow(2.0)
        raw = torch.einsum("cf,...ft->...ct", self.filters, power)
        loudest = torch.nn.functional.normalize(raw, p=float("inf"), dim=-2, eps=1e-6).transpose(1, 2)
        # Ties (silence: all zero) go to the first bin, C, as torch.argmax resolves them.
        onehot = torch.zeros_like(loudest)
        return onehot.scatter_(-1, loudest.argmax(-1, keepdim=True), 1.0)

    def for_window(self, melody: np.ndarray, sample_rate: int, offset_s: float) -> torch.Tensor:
        """The chroma conditioning a 30 s window that starts `offset_s` into the take, as
        audiocraft does beyond 30 s: the melody from that point on, looped to fill the
        window (so the melody keeps going where the last window left it)."""
        wave = self._mono(melody, sample_rate)
        start = int(offset_s * self.sampling_rate)
        positions = torch.arange(start, start + self.max_samples) % wave.shape[-1]
        return self(wave[positions].numpy(), self.sampling_rate)

    def _mono(self, melody: np.ndarray, sample_rate: int) -> torch.Tensor:
        if sample_rate != self.sampling_rate:
            raise InvalidArgument(
                f"the melody is at {sample_rate} Hz; this model hears melodies at {self.sampling_rate} Hz"
            )
        wave = torch.as_tensor(np.asarray(melody), dtype=torch.float32)
        if wave.ndim == 2:
            wave = wave.mean(dim=0)
        if wave.ndim != 1 or wave.shape[0] == 0:
            raise InvalidArgument("the melody must be (samples,) or (channels, samples) audio, and not empty")
        if not math.isfinite(float(wave.abs().max())):
            raise InvalidArgument("the melody holds samples that are not numbers")
        return wave
