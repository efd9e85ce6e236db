"""Demucs (htdemucs by default) through demucs 4.1.0's own apply_model.

Loads a model by name from a folder in demucs's local repository format, the
files Meta publishes (e.g. `htdemucs.yaml` and `955717e8-8726e21a.th`). Only the
modules below are imported: none of them needs torchaudio, which we don't install.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import torch
from demucs.apply import BagOfModels, apply_model
from demucs.pretrained import get_model

from sparrow_stems.domain import STEM_NAMES, Mix, Stems
from sparrow_stems.engine.base import Cancelled, ModelUnavailable, StepCallback

log = logging.getLogger(__name__)


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def count_segments(samples: int, segment_samples: int, overlap: float) -> int:
    """How many segments apply_model(split=True) cuts `samples` into: one every
    stride, the last one padded."""
    stride = int((1 - overlap) * segment_samples)
    return len(range(0, samples, stride))


class DemucsEngine:
    """Load once, then split mixes. Calls may run in parallel threads: inference
    keeps no state in the model, which stays on its device."""

    def __init__(self, model_id: str, model_dir: str | Path, device: str = "auto", overlap: float = 0.25):
        if not 0 <= overlap < 1:
            raise ValueError("overlap must be at least 0 and below 1")
        self.model_id = model_id
        self.model_dir = Path(model_dir)
        self.device = resolve_device(device)
        self.overlap = overlap
        self.model = None
        self.sample_rate = 0
        self.channels = 0

    # -- lifecycle ------------------------------------------------------------

    def load(self) -> None:
        where = f"could not load Demucs model '{self.model_id}' from {self.model_dir}"
        hint = (
            f"Put {self.model_id}.yaml and the .th files it names in STEMS_MODEL_DIR "
            "(see services/stems/README.md)."
        )
        # get_model exits the process (demucs's `fatal`) when the folder is missing.
        if not self.model_dir.is_dir():
            raise ModelUnavailable(f"{where}: no such folder. {hint}")
        try:
            model = get_model(self.model_id, repo=self.model_dir)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - every cause becomes the same clear reason
            text = str(error).strip()
            first_line = text.splitlines()[0] if text else type(error).__name__
            raise ModelUnavailable(f"{where}: {first_line}. {hint}") from error
        if tuple(model.sources) != STEM_NAMES:
            raise ModelUnavailable(
                f"'{self.model_id}' writes the stems {', '.join(model.sources)}; Sparrow needs exactly "
                f"{', '.join(STEM_NAMES)} (htdemucs, htdemucs_ft, hdemucs_mmi, mdx_extra...)"
            )
        model.to(self.device).eval()
        self.sample_rate = model.samplerate
        self.channels = model.audio_channels
        self.model = model
        log.info(
            "loaded %s from %s on %s (%d Hz, %d channel(s))",
            self.model_id, self.model_dir, self.device, self.sample_rate, self.channels,
        )

    # -- separation -----------------------------------------------------------

    def total_segments(self, samples: int) -> int:
        """How many segments `separate` reports for a mix of `samples`."""
        models = self.model.models if isinstance(self.model, BagOfModels) else [self.model]
        return sum(
            count_segments(samples, int(self.sample_rate * float(model.segment)), self.overlap) for model in models
        )

    def separate(self, mix: Mix, on_step: StepCallback, cancel: threading.Event) -> Stems:
        if self.model is None:
            raise ModelUnavailable(f"model '{self.model_id}' is not loaded")
        if mix.sample_rate != self.sample_rate or mix.audio.shape[0] != self.channels:
            raise ValueError("the mix must be at the model's sample rate and channels")
        wav = torch.from_numpy(mix.audio)
        total = self.total_segments(wav.shape[-1])
        done = 0
        on_step(0, total)

        def each_segment(event: dict) -> None:
            # apply_model calls this around every segment's forward pass; raising
            # here stops it before the next one.
            nonlocal done
            if event["state"] == "start":
                if cancel.is_set():
                    raise Cancelled()
            else:
                done += 1
                on_step(done, total)

        # As demucs's separate does: the model expects a mix of zero mean and unit
        # deviation, measured on the mono reference; the stems get the scale back.
        reference = wav.mean(0)
        mean, std = reference.mean(), reference.std() + 1e-8
        with torch.inference_mode():
            normalized = (wav - mean).div_(std)[None]
            out = self._apply(normalized, each_segment)
            del normalized
            stems = out[0].mul_(std).add_(mean)
        return Stems(audio={name: stems[i].numpy() for i, name in enumerate(STEM_NAMES)}, sample_rate=self.sample_rate)

    def _apply(self, mix: torch.Tensor, callback) -> torch.Tensor:
        """apply_model(self.model, mix): the same stems, with less memory for a bag."""
        # The whole mix and the stems stay in host memory; only one segment at a
        # time visits the device. shifts=0: the same mix always gives the same
        # stems (a single random shift only moves the segment grid).
        options = dict(shifts=0, split=True, overlap=self.overlap, device=self.device, callback=callback)
        if not isinstance(self.model, BagOfModels):
            return apply_model(self.model, mix, **options)
        # apply_model's own loop over a bag's models, in the same order with the
        # same arithmetic, but summing in place: demucs keeps three song-long
        # copies of the four stems alive at once, this two (one for a bag of one).
        estimates = None
        totals = [0.0] * len(self.model.sources)
        for model, weights in zip(self.model.models, self.model.weights, strict=True):
            out = apply_model(model, mix, **options)
            for k, weight in enumerate(weights):
                out[:, k, :, :] *= weight
                totals[k] += weight
            if estimates is None:
                estimates = out
            else:
                estimates += out
            del out
        for k in range(estimates.shape[1]):
            estimates[:, k, :, :] /= totals[k]
        return estimates
