"""What MusicGen hears besides the audio: the description through T5 and, on
melody checkpoints, a melody's chroma. Built once per call, as one conditional
row and (with guidance) one unconditional row, exactly as transformers' MusicGen
builds them; the decoding loop copies them to every take's rows.
"""

from __future__ import annotations

import math

import torch

from sparrow_generation.engine.decoding import Conditioning


def _module_dtype(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


class Conditioner:
    def __init__(self, model, tokenizer, device: str, decoder_dtype: torch.dtype):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.decoder_dtype = decoder_dtype
        self.melody = hasattr(model, "audio_enc_to_dec_proj")

    def _text(self, description: str, guided: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The description's T5 states projected to the decoder's width, and their mask."""
        inputs = self.tokenizer([description], padding=True, return_tensors="pt").to(self.device)
        hidden = self.model.text_encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        hidden = hidden.last_hidden_state
        mask = inputs["attention_mask"]
        decoder_config = self.model.decoder.config
        if self.model.text_encoder.config.hidden_size != decoder_config.hidden_size and (
            self.melody or decoder_config.cross_attention_hidden_size is None
        ):
            hidden = self.model.enc_to_dec_proj(hidden.to(_module_dtype(self.model.enc_to_dec_proj)))
        if guided:  # the unconditional row hears nothing
            hidden = torch.cat([hidden, torch.zeros_like(hidden)])
            mask = torch.cat([mask, torch.zeros_like(mask)])
        return hidden * mask[..., None], mask

    def _chroma(self, chroma: torch.Tensor | None, guided: bool) -> torch.Tensor:
        """(1, frames, num_chroma) one-hot chroma, or none: the states the melody
        decoder hears first, `chroma_length` of them."""
        config = self.model.config
        null = torch.zeros((1, 1 if chroma is None else chroma.shape[1], config.num_chroma), device=self.device)
        null[:, :, 0] = 1
        states = null if chroma is None else chroma.to(self.device, torch.float32)
        if guided:
            states = torch.cat([states, null])
        if config.num_chroma != self.model.decoder.config.hidden_size:
            projection = self.model.audio_enc_to_dec_proj
            states = projection(states.to(_module_dtype(projection)))
        if states.shape[1] < config.chroma_length:
            states = states.repeat(1, math.ceil(config.chroma_length / states.shape[1]), 1)
        return states[:, : config.chroma_length]

    def __call__(self, description: str, guided: bool, chroma: torch.Tensor | None = None) -> Conditioning:
        text, mask = self._text(description, guided)
        if not self.melody:
            return Conditioning(text.to(self.decoder_dtype), mask, prefix=False)
        states = torch.cat([self._chroma(chroma, guided).to(text.dtype), text], dim=1)
        return Conditioning(states.to(self.decoder_dtype), None, prefix=True)
