"""Demucs (htdemucs by default) through demucs 4.1.0's own apply_model.

A worker offers one or more models (STEMS_MODELS, the first the default); each
writes its own stems (htdemucs: drums, bass, other, vocals; htdemucs_6s adds
guitar and piano), carried as data from here on. Each loads by name, like MusicGen:
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

from sparrow_stems.domain import Mix, Stems
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
    """Load once, then split mixes with any of the offered models. Calls may run
    in parallel threads: inference keeps no state in a model, which stays on its
    device."""

    def __init__(
        self, model_ids: str | list[str], model_dir: str | Path, device: str = "auto", overlap: float = 0.25,
        cache_dir: str | Path = "data/models/demucs-cache",
    ):
        if not 0 <= overlap < 1:
            raise ValueError("overlap must be at least 0 and below 1")
        names = [model_ids] if isinstance(model_ids, str) else list(model_ids)
        if not names or len(set(names)) != len(names) or not all(names):
            raise ValueError("offer at least one model, each named once")
        self.model_ids = names
        self.model_dir = Path(model_dir)
        self.cache_dir = Path(cache_dir)
        self.device = resolve_device(device)
        self.overlap = overlap
        # Name -> the loaded model (a model or a bag), in the order offered.
        self.models: dict[str, object] = {}
        # Name -> why it could not load: an offered model beside the default
        # that failed leaves the others serving.
        self.unavailable: dict[str, str] = {}

    @property
    def model_id(self) -> str:
        """The default model: the first offered."""
        return self.model_ids[0]

    @property
    def model(self):
        return self.models.get(self.model_id)

    @property
    def sample_rate(self) -> int:
        return self.model.samplerate if self.model is not None else 0

    @property
    def channels(self) -> int:
        return self.model.audio_channels if self.model is not None else 0

    def stems_of(self) -> dict[str, list[str]]:
        """Each loaded model's stems, in the order they stream back."""
        return {name: list(model.sources) for name, model in self.models.items()}

    def pick(self, name: str = ""):
        """The model `name` ("" for the default): (its name, the model); raises
        ValueError for a model this worker does not offer."""
        name = name or self.model_id
        if name not in self.model_ids:
            raise ValueError(f"this worker offers the stems models {', '.join(self.model_ids)}, not '{name}'")
        model = self.models.get(name)
        if model is None:
            raise ModelUnavailable(self.unavailable.get(name) or f"model '{name}' is not loaded")
        return name, model

    # -- lifecycle ------------------------------------------------------------

    def load(self) -> None:
        """Load every model offered. The default must load (else the worker is
        unavailable, saying why); another that can't is left out, its reason
        kept in `unavailable`, and the rest serve."""
        self._load(self.model_id)
        for name in self.model_ids[1:]:
            try:
                self._load(name)
            except ModelUnavailable as error:
                self.unavailable[name] = str(error)
                log.warning("stems model %s is unavailable, the others serve: %s", name, error)

    def _load(self, name: str) -> None:
        local = (self.model_dir / f"{name}.yaml").is_file() or any(self.model_dir.glob(f"{name}*.th"))
        model = self._local(name) if local else self._released(name)
        model.to(self.device).eval()
        self.models[name] = model
        log.info(
            "loaded %s from %s on %s (%d Hz, %d channel(s)): %s",
            name, self.model_dir if local else self.cache_dir, self.device, model.samplerate, model.audio_channels,
            ", ".join(model.sources),
        )

    def _local(self, name: str):
        where = f"could not load Demucs model '{name}' from {self.model_dir}"
        try:
            return get_model(name, repo=self.model_dir)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - every cause becomes the same clear reason
            text = str(error).strip()
            first_line = text.splitlines()[0] if text else type(error).__name__
            raise ModelUnavailable(
                f"{where}: {first_line}. Put {name}.yaml and the .th files it names in "
                "STEMS_MODEL_DIR (see services/stems/README.md)."
            ) from error

    def _released(self, name: str):
        """Meta's released model by name: from the cache, or downloaded into it."""
        where = f"could not load Demucs model '{name}'"
        files = released_files(name)
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
                    f"Give this machine access, or put {name}.yaml and the .th files it names in "
                    "STEMS_MODEL_DIR (see services/stems/README.md)."
                )
            log.info("downloading %s (%d file(s)) into %s", name, len(files), self.cache_dir)
        # torch.hub keeps downloads under its folder's checkpoints/: this worker's is the cache.
        torch.hub.set_dir(str(self.cache_dir))
        addresses = _parse_remote_files(REMOTE_ROOT / "files.txt")
        weights = RemoteRepo(addresses)
        try:
            return AnyModelRepo(weights, BagOnlyRepo(REMOTE_ROOT, weights)).get_model(name)
        except Exception as error:  # noqa: BLE001 - a broken download or file says so
            text = str(error).strip()
            raise ModelUnavailable(f"{where}: {text.splitlines()[0] if text else type(error).__name__}") from error

    # -- separation -----------------------------------------------------------

    def format_of(self, name: str = "") -> tuple[int, int]:
        """The sample rate and channels model `name` ("" the default) takes a mix at."""
        _, model = self.pick(name)
        return model.samplerate, model.audio_channels

    def total_segments(self, samples: int, name: str = "") -> int:
        """How many segments `separate` reports for a mix of `samples`."""
        _, bag = self.pick(name)
        models = bag.models if isinstance(bag, BagOfModels) else [bag]
        return sum(
            count_segments(samples, int(bag.samplerate * float(model.segment)), self.overlap) for model in models
        )

    def separate(self, mix: Mix, on_step: StepCallback, cancel: threading.Event, model_id: str = "") -> Stems:
        name, model = self.pick(model_id)
        if mix.sample_rate != model.samplerate or mix.audio.shape[0] != model.audio_channels:
            raise ValueError("the mix must be at the model's sample rate and channels")
        wav = torch.from_numpy(mix.audio)
        total = self.total_segments(wav.shape[-1], name)
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
            out = self._apply(model, normalized, each_segment)
            del normalized
            stems = out[0].mul_(std).add_(mean)
        return Stems(
            audio={stem: stems[i].numpy() for i, stem in enumerate(model.sources)},
            sample_rate=model.samplerate, model=name,
        )

    def _apply(self, bag, mix: torch.Tensor, callback) -> torch.Tensor:
        """apply_model(bag, mix): the same stems, with less memory for a bag."""
        # The whole mix and the stems stay in host memory; only one segment at a
        # time visits the device. shifts=0: the same mix always gives the same
        # stems (a single random shift only moves the segment grid).
        options = dict(shifts=0, split=True, overlap=self.overlap, device=self.device, callback=callback)
        if not isinstance(bag, BagOfModels):
            return apply_model(bag, mix, **options)
        # apply_model's own loop over a bag's models, in the same order with the
        # same arithmetic, but summing in place: demucs keeps three song-long
        # copies of the four stems alive at once, this two (one for a bag of one).
        estimates = None
        totals = [0.0] * len(bag.sources)
        for model, weights in zip(bag.models, bag.weights, strict=True):
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
