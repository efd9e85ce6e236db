"""Demucs (htdemucs by default) through demucs 4.1.0's own apply_model.

Loads a model by name, like MusicGen:
1. from a folder in demucs's local repository format (`STEMS_MODEL_DIR`: the
   files Meta publishes, e.g. `htdemucs.yaml` and `955717e8-8726e21a.th`);
2. else one of Meta's released models (htdemucs, htdemucs_ft, htdemucs_6s,
   hdemucs_mmi, mdx_extra...), whose bag files ship with demucs and whose
   weights come from demucs's own remote repository into the cache folder
   (`STEMS_CACHE_DIR`), once: a cached model loads with no network;
3. else it fails within seconds, saying which it could not do and why.
Only the modules below are imported: none of them needs torchaudio, which we
don't install, nor the Hugging Face hub (demucs's get_model would try it first).
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import torch
import yaml
from demucs.apply import BagOfModels, apply_model
from demucs.pretrained import REMOTE_ROOT, ROOT_URL, _parse_remote_files, get_model
from demucs.repo import AnyModelRepo, BagOnlyRepo, RemoteRepo

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


# Where Meta's released weights come from (demucs's remote repository).
RELEASES_HOST = urlparse(ROOT_URL).hostname
RELEASES_PORT = 443


def released_files(name: str) -> dict[str, str] | None:
    """The weight files (file name -> address) Meta's released model `name`
    needs; None when demucs knows no release of that name."""
    bag = REMOTE_ROOT / f"{name}.yaml"
    if not bag.is_file():
        return None
    addresses = _parse_remote_files(REMOTE_ROOT / "files.txt")
    return {Path(addresses[sig]).name: addresses[sig] for sig in yaml.safe_load(bag.read_text())["models"]}


def _reachable(host: str, port: int) -> OSError | None:
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        return error
    return None


class DemucsEngine:
    """Load once, then split mixes. Calls may run in parallel threads: inference
    keeps no state in the model, which stays on its device."""

    def __init__(
        self, model_id: str, model_dir: str | Path, device: str = "auto", overlap: float = 0.25,
        cache_dir: str | Path = "data/models/demucs-cache",
    ):
        if not 0 <= overlap < 1:
            raise ValueError("overlap must be at least 0 and below 1")
        self.model_id = model_id
        self.model_dir = Path(model_dir)
        self.cache_dir = Path(cache_dir)
        self.device = resolve_device(device)
        self.overlap = overlap
        self.model = None
        self.sample_rate = 0
        self.channels = 0

    # -- lifecycle ------------------------------------------------------------

    def load(self) -> None:
        local = (self.model_dir / f"{self.model_id}.yaml").is_file() or any(self.model_dir.glob(f"{self.model_id}*.th"))
        model = self._local() if local else self._released()
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
            self.model_id, self.model_dir if local else self.cache_dir, self.device, self.sample_rate, self.channels,
        )

    def _local(self):
        where = f"could not load Demucs model '{self.model_id}' from {self.model_dir}"
        try:
            return get_model(self.model_id, repo=self.model_dir)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - every cause becomes the same clear reason
            text = str(error).strip()
            first_line = text.splitlines()[0] if text else type(error).__name__
            raise ModelUnavailable(
                f"{where}: {first_line}. Put {self.model_id}.yaml and the .th files it names in "
                "STEMS_MODEL_DIR (see services/stems/README.md)."
            ) from error

    def _released(self):
        """Meta's released model by name: from the cache, or downloaded into it."""
        where = f"could not load Demucs model '{self.model_id}'"
        files = released_files(self.model_id)
        if files is None:
            raise ModelUnavailable(
                f"{where}: it is not in STEMS_MODEL_DIR ({self.model_dir}) and is not one of Meta's released "
                "models (htdemucs, htdemucs_ft, htdemucs_6s, hdemucs_mmi, mdx_extra...)."
            )
        cached = self.cache_dir / "checkpoints"
        if not all((cached / name).is_file() for name in files):
            unreachable = _reachable(RELEASES_HOST, RELEASES_PORT)
            if unreachable is not None:
                raise ModelUnavailable(
                    f"{where}: it is not in STEMS_MODEL_DIR ({self.model_dir}) nor in the cache "
                    f"({self.cache_dir}), and {RELEASES_HOST} can't be reached to download it ({unreachable}). "
                    f"Give this machine access, or put {self.model_id}.yaml and the .th files it names in "
                    "STEMS_MODEL_DIR (see services/stems/README.md)."
                )
            log.info("downloading %s (%d file(s)) into %s", self.model_id, len(files), self.cache_dir)
        # torch.hub keeps downloads under its folder's checkpoints/: this worker's is the cache.
        torch.hub.set_dir(str(self.cache_dir))
        addresses = _parse_remote_files(REMOTE_ROOT / "files.txt")
        weights = RemoteRepo(addresses)
        try:
            return AnyModelRepo(weights, BagOnlyRepo(REMOTE_ROOT, weights)).get_model(self.model_id)
        except Exception as error:  # noqa: BLE001 - a broken download or file says so
            text = str(error).strip()
            raise ModelUnavailable(f"{where}: {text.splitlines()[0] if text else type(error).__name__}") from error

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
