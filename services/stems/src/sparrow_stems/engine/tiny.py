"""Build an HTDemucs with random weights and save it as a demucs model folder,
loadable exactly like the released htdemucs (`get_model(name, repo=folder)`).
Tests use a tiny one; benchmarks use the real architecture's sizes
(shared/models/htdemucs.json). No download involved.

    python -m sparrow_stems.engine.tiny FOLDER [--config sizes.json] [--name htdemucs]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from fractions import Fraction
from pathlib import Path

import torch
import yaml
from demucs.htdemucs import HTDemucs
from demucs.states import get_state, save_with_checksum

from sparrow_stems.domain import FOUR_STEMS

# The released model's rate, channels, stems and segment, with just enough
# channels and layers for a forward pass to be quick. Depth 4 as released: a
# shallower model hands its transformer sequences too long to attend over fast.
TINY = {
    "sources": list(FOUR_STEMS), "audio_channels": 2, "samplerate": 44100, "segment": [39, 5],
    "channels": 2, "growth": 2, "nfft": 2048, "depth": 4, "dconv_depth": 1, "dconv_comp": 2,
    "t_layers": 1, "t_heads": 1, "t_hidden_scale": 1.0,
}


def _kwargs(sizes: dict) -> dict:
    kwargs = dict(sizes)
    segment = kwargs.get("segment")
    if isinstance(segment, list):  # JSON has no fractions: [39, 5] is 39/5 seconds
        kwargs["segment"] = Fraction(*segment)
    return kwargs


# htdemucs_6s's stems: the four and guitar and piano.
SIX_STEMS = [*FOUR_STEMS, "guitar", "piano"]


def build_random_htdemucs(
    folder: str | Path, sizes: dict | None = None, name: str = "htdemucs", seed: int = 0,
    sources: list[str] | None = None,
) -> Path:
    """Save a random-weight HTDemucs of `sizes` (TINY by default) writing
    `sources` (the sizes' own by default) into `folder` as
    `<signature>-<checksum>.th` and the bag `<name>.yaml` naming it, as demucs's
    releases lay them out."""
    sizes = dict(sizes or TINY)
    if sources is not None:
        sizes["sources"] = list(sources)
    torch.manual_seed(seed)
    model = HTDemucs(**_kwargs(sizes))
    args, kwargs = model._init_args_kwargs
    # What demucs.states.serialize_model writes (it imports omegaconf only to fill
    # training_args, which loading ignores); half precision, as released.
    package = {
        "klass": HTDemucs,
        "args": args,
        "kwargs": kwargs,
        "state": get_state(model, None, half=True),
        "training_args": {},
    }
    signature = hashlib.sha256(json.dumps([sizes, seed], sort_keys=True).encode()).hexdigest()[:8]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{signature}*.th"):
        old.unlink()
    save_with_checksum(package, folder / f"{signature}.th")
    (folder / f"{name}.yaml").write_text(yaml.safe_dump({"models": [signature]}))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description="Save a random-weight HTDemucs model folder.")
    parser.add_argument("folder")
    parser.add_argument("--config", help="JSON of HTDemucs keyword arguments (segment as [numerator, denominator])")
    parser.add_argument("--name", default="htdemucs", help="the model name to load it by (in STEMS_MODELS)")
    parser.add_argument("--stems", help="the stems it writes, comma-separated (six: " + ",".join(SIX_STEMS) + ")")
    args = parser.parse_args()
    sizes = json.loads(Path(args.config).read_text()) if args.config else None
    sources = args.stems.split(",") if args.stems else None
    print(build_random_htdemucs(args.folder, sizes, name=args.name, sources=sources))


if __name__ == "__main__":
    main()
