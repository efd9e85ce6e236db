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
from sparrow_stems.domain import STEM_NAMES, Mix
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
    assert list(stems.audio) == list(STEM_NAMES)
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
