"""Finding and loading a MusicGen checkpoint: by hub name or from a folder, in
transformers' layout or audiocraft's, at the precision the device runs best.

Precision (`GENERATION_DTYPE`): the decoder runs in the chosen dtype; EnCodec
and T5 always run in float32 (T5 overflows in float16, and the two together
are a small share of the time). `auto` is bfloat16 on CUDA and float32 on the
CPU. `GENERATION_QUANTIZE=auto` quantizes the decoder's linear layers to int8
on the CPU (per-row dynamic quantization, engine/int8.py) and leaves CUDA alone.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import snapshot_download
from transformers import AutoTokenizer, MusicgenForConditionalGeneration, MusicgenMelodyForConditionalGeneration

from sparrow_common.engine import ModelUnavailable

from sparrow_generation.engine.audiocraft import is_audiocraft, load_audiocraft
from sparrow_generation.engine.int8 import quantize_linears

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
QUANTIZE = ("auto", "none", "int8")


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


@dataclass(frozen=True)
class Precision:
    """What the decoder runs in, and whether its linear layers are int8."""

    decoder: torch.dtype
    int8: bool

    @classmethod
    def resolve(cls, device: str, dtype: str, quantize: str) -> Precision:
        if dtype != "auto" and dtype not in DTYPES:
            raise ModelUnavailable(f"unknown GENERATION_DTYPE '{dtype}' (use auto, {', '.join(DTYPES)})")
        if quantize not in QUANTIZE:
            raise ModelUnavailable(f"unknown GENERATION_QUANTIZE '{quantize}' (use {', '.join(QUANTIZE)})")
        cpu = not device.startswith("cuda")
        decoder = DTYPES[dtype] if dtype != "auto" else (torch.float32 if cpu else torch.bfloat16)
        if quantize == "int8" and not cpu:
            raise ModelUnavailable("int8 quantization runs on the CPU only; set GENERATION_QUANTIZE=none on GPU")
        if quantize == "int8" and decoder != torch.float32:
            raise ModelUnavailable("int8 quantization starts from float32 weights; set GENERATION_DTYPE=float32")
        int8 = quantize == "int8" or (quantize == "auto" and cpu and decoder == torch.float32)
        return cls(decoder, int8)

    def __str__(self) -> str:
        name = str(self.decoder).removeprefix("torch.")
        return f"decoder {name}{' + int8 linear layers' if self.int8 else ''}, EnCodec and T5 float32"


def locate(model_id: str) -> str:
    """A local folder holding the checkpoint: `model_id` itself when it is a
    folder, else the hub's cache, downloading into it when the hub can be reached.
    Fails in seconds, not after minutes of retries, when it can't."""
    if Path(model_id).is_dir():
        return model_id
    if model_id.startswith(("/", ".")):
        raise ModelUnavailable(f"could not load MusicGen model '{model_id}': no such folder")
    try:
        return snapshot_download(model_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached: try the hub
        pass
    host = urlparse(hf_constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as error:
        raise ModelUnavailable(
            f"could not load MusicGen model '{model_id}': it is not in the local cache and the Hugging Face hub "
            f"({host}) can't be reached ({error}). Set GENERATION_MODEL to a local folder holding the checkpoint."
        ) from None
    return snapshot_download(model_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])


def _is_melody(folder: str) -> bool:
    config = Path(folder) / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("model_type") == "musicgen_melody"


def load_checkpoint(model_id: str):
    """(model in float32 on the CPU, eval mode; its tokenizer). Any failure is
    ModelUnavailable with the reason in words."""
    try:
        folder = locate(model_id)
        if is_audiocraft(Path(folder)):
            model, tokenizer = load_audiocraft(Path(folder), locate)
        else:
            kind = MusicgenMelodyForConditionalGeneration if _is_melody(folder) else MusicgenForConditionalGeneration
            model = kind.from_pretrained(folder, dtype=torch.float32)
            # AutoTokenizer, not AutoProcessor: melody's feature extractor needs torchaudio.
            tokenizer = AutoTokenizer.from_pretrained(folder)
    except ModelUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - every cause becomes the same clear reason
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelUnavailable(
            f"could not load MusicGen model '{model_id}': {first_line}. Set GENERATION_MODEL "
            "to a local folder holding the checkpoint, or give this machine access to the Hugging Face hub."
        ) from error
    return model.eval(), tokenizer, folder


def apply_precision(model, device: str, precision: Precision):
    """Move the model to `device`, the decoder to its dtype (or int8)."""
    model.to(device)
    if precision.int8:
        quantize_linears(model.decoder)
    else:
        model.decoder.to(precision.decoder)
    return model
