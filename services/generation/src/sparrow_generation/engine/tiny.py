"""Build a MusicGen with random weights and save it as a model folder, loadable
exactly like a released checkpoint. Tests use a tiny one; benchmarks use the real
architectures' sizes (shared/models/musicgen-small.json). No download involved.

    python -m sparrow_generation.engine.tiny FOLDER [--config sizes.json] [--stereo]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    EncodecConfig,
    EncodecFeatureExtractor,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenProcessor,
    T5Config,
    T5TokenizerFast,
)

TINY = {
    "text_encoder": {"vocab_size": 64, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 1, "num_heads": 2},
    "audio_encoder": {
        "sampling_rate": 32000, "audio_channels": 1, "num_filters": 4, "upsampling_ratios": [8, 5, 4, 4],
        "hidden_size": 16, "codebook_size": 32, "codebook_dim": 16, "num_lstm_layers": 1,
        # 1 kbps at 50 Hz with 32-entry codebooks: 4 codebooks, as the real models have.
        "target_bandwidths": [1.0], "use_causal_conv": False, "pad_mode": "reflect", "normalize": False,
        "compress": 2, "num_residual_layers": 1,
    },
    "decoder": {
        "vocab_size": 32, "hidden_size": 16, "num_hidden_layers": 1, "ffn_dim": 32, "num_attention_heads": 2,
        "num_codebooks": 4, "pad_token_id": 32, "bos_token_id": 32, "max_position_embeddings": 512,
    },
}

_WORDS = "warm lofi drums bass piano guitar synth energy calm driving tempo slower faster sparse dense arrangement"


def _tokenizer() -> T5TokenizerFast:
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(f"▁{w}", -1.0) for w in _WORDS.split()]
    pieces += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz,▁"]
    backend = Tokenizer(models.Unigram(pieces, unk_id=2))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    return T5TokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0)


def build_random_musicgen(folder: str | Path, sizes: dict | None = None, stereo: bool = False, seed: int = 0) -> Path:
    """Save a random-weight MusicGen of `sizes` (TINY by default) with its processor."""
    sizes = json.loads(json.dumps(sizes or TINY))
    if stereo:  # as musicgen-stereo: a mono EnCodec run per channel, 4 codebooks each
        sizes["decoder"]["audio_channels"] = 2
        sizes["decoder"]["num_codebooks"] = 2 * sizes["decoder"]["num_codebooks"]
    torch.manual_seed(seed)
    config = MusicgenConfig(
        text_encoder=T5Config(**sizes["text_encoder"]),
        audio_encoder=EncodecConfig(**sizes["audio_encoder"]),
        decoder=MusicgenDecoderConfig(**sizes["decoder"]),
    )
    model = MusicgenForConditionalGeneration(config)
    # EnCodec's codebooks start as zeros (training fills them); random ones make
    # every code sound different, as in a trained model.
    for name, buffer in model.audio_encoder.named_buffers():
        if name.endswith("codebook.embed"):
            buffer.normal_()
    channels = sizes["decoder"].get("audio_channels", 1)
    rate = sizes["audio_encoder"]["sampling_rate"]
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=channels, sampling_rate=rate),
        tokenizer=_tokenizer(),
    )
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description="Save a random-weight MusicGen model folder.")
    parser.add_argument("folder")
    parser.add_argument("--config", help="JSON of T5Config/EncodecConfig/MusicgenDecoderConfig sizes")
    parser.add_argument("--stereo", action="store_true")
    args = parser.parse_args()
    sizes = json.loads(Path(args.config).read_text()) if args.config else None
    print(build_random_musicgen(args.folder, sizes, stereo=args.stereo))


if __name__ == "__main__":
    main()
