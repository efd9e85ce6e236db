"""Build a MusicGen with random weights and save it as a model folder, loadable
exactly like a released checkpoint. Tests use a tiny one; benchmarks use the real
architectures' sizes (shared/models/musicgen-small.json). No download involved.
`melody=True` saves a musicgen-melody instead, conditioned on a melody's chroma.

    python -m sparrow_generation.engine.tiny FOLDER [--config sizes.json] [--stereo] [--melody]
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
    MusicgenMelodyConfig,
    MusicgenMelodyDecoderConfig,
    MusicgenMelodyForConditionalGeneration,
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

# What a released musicgen-melody ships as preprocessor_config.json: the defaults of
# MusicgenMelodyFeatureExtractor as its to_dict() writes them (the class itself needs
# torchaudio, so it is written by hand; it has no `num_chroma` key, the extractor uses its
# default of 12). `sampling_rate` and `n_samples` follow the codec.
MELODY_FEATURES = {
    "chunk_length": 30,
    "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
    "feature_size": 12,
    "hop_length": 4096,
    "n_fft": 16384,
    "padding_side": "right",
    "padding_value": 0.0,
    "processor_class": "MusicgenMelodyProcessor",
    "return_attention_mask": False,
    "sampling_rate": 32000,
    "stem_indices": [3, 2],
}

_WORDS = "warm lofi drums bass piano guitar synth energy calm driving tempo slower faster sparse dense arrangement"


def _tokenizer() -> T5TokenizerFast:
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(f"▁{w}", -1.0) for w in _WORDS.split()]
    pieces += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz,▁"]
    backend = Tokenizer(models.Unigram(pieces, unk_id=2))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    return T5TokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0)


def build_random_musicgen(
    folder: str | Path, sizes: dict | None = None, stereo: bool = False, seed: int = 0, melody: bool = False
) -> Path:
    """Save a random-weight MusicGen of `sizes` (TINY by default) with its processor.

    `melody=True` saves a MusicgenMelodyForConditionalGeneration instead, with the
    tokenizer and the chroma extractor's preprocessor_config.json of a released
    musicgen-melody: 12 chroma bins, `chroma_length` the frames of 30 s (235 at 32 kHz)."""
    sizes = json.loads(json.dumps(sizes or TINY))
    if stereo:  # as musicgen-stereo: a mono EnCodec run per channel, 4 codebooks each
        sizes["decoder"]["audio_channels"] = 2
        sizes["decoder"]["num_codebooks"] = 2 * sizes["decoder"]["num_codebooks"]
    torch.manual_seed(seed)
    channels = sizes["decoder"].get("audio_channels", 1)
    rate = sizes["audio_encoder"]["sampling_rate"]
    if melody:
        features = dict(MELODY_FEATURES, sampling_rate=rate, n_samples=MELODY_FEATURES["chunk_length"] * rate)
        config = MusicgenMelodyConfig(
            text_encoder=T5Config(**sizes["text_encoder"]),
            audio_encoder=EncodecConfig(**sizes["audio_encoder"]),
            decoder=MusicgenMelodyDecoderConfig(**sizes["decoder"]),
            num_chroma=features["feature_size"],
            chroma_length=1 + features["n_samples"] // features["hop_length"],
        )
        model = MusicgenMelodyForConditionalGeneration(config)
    else:
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
    if melody:
        # A trained model listens to the melody; at init's small weights the
        # chroma would barely move a random one's tokens.
        with torch.no_grad():
            model.audio_enc_to_dec_proj.weight.normal_(0, 1.0)
            for head in model.decoder.lm_heads:
                head.weight.normal_(0, 1.0)
    folder = Path(folder)
    model.save_pretrained(folder)
    if melody:
        _tokenizer().save_pretrained(folder)
        features_json = json.dumps(features, indent=2, sort_keys=True) + "\n"
        (folder / "preprocessor_config.json").write_text(features_json)
    else:
        processor = MusicgenProcessor(
            feature_extractor=EncodecFeatureExtractor(feature_size=channels, sampling_rate=rate),
            tokenizer=_tokenizer(),
        )
        processor.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description="Save a random-weight MusicGen model folder.")
    parser.add_argument("folder")
    parser.add_argument("--config", help="JSON of T5Config/EncodecConfig/MusicgenDecoderConfig sizes")
    parser.add_argument("--stereo", action="store_true")
    parser.add_argument("--melody", action="store_true", help="a musicgen-melody, steered by a melody")
    args = parser.parse_args()
    sizes = json.loads(Path(args.config).read_text()) if args.config else None
    print(build_random_musicgen(args.folder, sizes, stereo=args.stereo, melody=args.melody))


if __name__ == "__main__":
    main()
