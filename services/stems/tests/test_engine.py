"""The Demucs engine against demucs's own reference path, on tiny random models."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import yaml
from demucs.apply import apply_model
from demucs.pretrained import get_model

from sparrow_common.audio import decode
from sparrow_common.testing.clips import make_clip
from sparrow_stems.domain import FOUR_STEMS, Mix
from sparrow_stems.engine import Cancelled
from sparrow_stems.engine.demucs import DemucsEngine
from sparrow_stems.engine.tiny import build_random_htdemucs


@pytest.fixture(scope="module")
def tiny_bag(tmp_path_factory):
    """A bag of two tiny models with per-stem weights, as htdemucs_ft is a bag of four."""
    folder = tmp_path_factory.mktemp("bag")
    signatures = []
    for seed in (1, 2):
        build_random_htdemucs(folder, name=f"single{seed}", seed=seed)
        signatures += yaml.safe_load((folder / f"single{seed}.yaml").read_text())["models"]
    weights = [[1.0, 0.5, 1.0, 0.0], [0.5, 1.0, 1.0, 1.0]]
    (folder / "htdemucs_bag.yaml").write_text(yaml.safe_dump({"models": signatures, "weights": weights}))
    return folder


def song(seconds: float) -> Mix:
    return Mix(decode(make_clip("wav", seconds, 44100, 2), 44100, 2), 44100)


def test_stems_equal_what_demucs_itself_computes_for_a_bag(tiny_bag):
    engine = DemucsEngine("htdemucs_bag", tiny_bag)
    engine.load()
    mix = song(5.0)
    steps = []
    stems = engine.separate(mix, lambda done, total: steps.append((done, total)), threading.Event())
    assert steps == [(0, 2), (1, 2), (2, 2)]  # one segment for each of the two models
    # demucs's separate: normalize on the mono reference, apply_model, scale back
    wav = torch.from_numpy(mix.audio)
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    expected = apply_model(get_model("htdemucs_bag", repo=tiny_bag), ((wav - mean) / std)[None], shifts=0)
    expected = (expected * std + mean)[0].numpy()
    assert list(stems.audio) == list(FOUR_STEMS)
    np.testing.assert_array_equal(np.stack(list(stems.audio.values())), expected)


def test_a_set_cancel_flag_stops_before_the_next_segment(tiny_htdemucs):
    engine = DemucsEngine("htdemucs", tiny_htdemucs)
    engine.load()
    cancel = threading.Event()
    steps = []

    def on_step(done, total):
        steps.append((done, total))
        if done == 1:
            cancel.set()

    with pytest.raises(Cancelled):
        engine.separate(song(20.0), on_step, cancel)
    assert steps == [(0, 4), (1, 4)]


# -- Meta's released models by name ----------------------------------------------

from sparrow_common.processes import free_port  # noqa: E402
from sparrow_stems.engine import ModelUnavailable, demucs as demucs_engine  # noqa: E402


@pytest.fixture
def offline(monkeypatch):
    """The releases' host is a local port nobody listens on: refused at once."""
    monkeypatch.setattr(demucs_engine, "RELEASES_HOST", "127.0.0.1")
    monkeypatch.setattr(demucs_engine, "RELEASES_PORT", free_port())
    downloads = []
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: downloads.append(a))
    return downloads


def test_a_released_model_loads_from_the_cache_with_no_network(tiny_htdemucs, tmp_path, offline):
    # What a first load on a connected machine leaves in the cache: htdemucs's one weight file.
    (name,) = demucs_engine.released_files("htdemucs")
    cache = tmp_path / "cache"
    (cache / "checkpoints").mkdir(parents=True)
    (signature,) = yaml.safe_load((tiny_htdemucs / "htdemucs.yaml").read_text())["models"]
    (weights,) = tiny_htdemucs.glob(f"{signature}-*.th")
    (cache / "checkpoints" / name).write_bytes(weights.read_bytes())
    engine = DemucsEngine("htdemucs", tmp_path / "no-model-folder", cache_dir=cache)
    engine.load()
    assert engine.model is not None and tuple(engine.model.sources) == FOUR_STEMS
    assert offline == []  # nothing was downloaded


def test_a_model_neither_here_nor_reachable_says_why_within_seconds(tmp_path, offline):
    import time

    engine = DemucsEngine("htdemucs_ft", tmp_path / "no-model-folder", cache_dir=tmp_path / "cache")
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        engine.load()
    assert time.monotonic() - started < 6
    reason = str(caught.value)
    assert "htdemucs_ft" in reason and "no-model-folder" in reason and "can't be reached" in reason
    assert offline == []


def test_a_name_meta_never_released_is_refused_by_name(tmp_path, offline):
    with pytest.raises(ModelUnavailable, match="not one of Meta's released models"):
        DemucsEngine("my_own_demucs", tmp_path / "none", cache_dir=tmp_path / "cache").load()


def test_the_released_six_stem_model_is_known_by_name():
    assert len(demucs_engine.released_files("htdemucs_6s")) == 1
    assert len(demucs_engine.released_files("htdemucs_ft")) == 4  # a bag of four
