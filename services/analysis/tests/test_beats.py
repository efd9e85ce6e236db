"""The beat tracker at a known tempo (engine/beats.py): the same beats as
librosa's `beat_track` (checked against it on 384 envelopes when it was written),
here on envelopes whose beats are known."""

from __future__ import annotations

import numpy as np

from sparrow_analysis.engine.beats import beat_frames

FPS = 22050 / 512


def clicks(period: int, frames: int = 600, first: int = 7) -> np.ndarray:
    envelope = np.full(frames, 0.01, dtype=np.float32)
    envelope[first::period] = 1.0
    return envelope


def test_beats_land_on_the_clicks_at_their_tempo():
    envelope = clicks(21)
    beats = beat_frames(envelope, FPS, 60 * FPS / 21, tightness=400)
    assert list(beats) == list(range(7, 600, 21))


def test_a_tempo_a_little_off_still_follows_the_clicks():
    envelope = clicks(21)
    beats = beat_frames(envelope, FPS, 60 * FPS / 21 * 1.04, tightness=100)
    assert set(range(49, 560, 21)) <= set(beats)


def test_silence_has_no_beats_and_weak_ends_are_trimmed():
    assert len(beat_frames(np.zeros(400, dtype=np.float32), FPS, 120.0, tightness=400)) == 0
    envelope = clicks(21)
    envelope[:100] = 0.01  # the first clicks gone: no beat is kept where nothing strikes
    beats = beat_frames(envelope, FPS, 60 * FPS / 21, tightness=400)
    assert beats[0] >= 100 and beats[0] in range(7, 600, 21)
    untrimmed = beat_frames(envelope, FPS, 60 * FPS / 21, tightness=400, trim=False)
    assert untrimmed[0] < beats[0]
