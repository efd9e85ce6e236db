"""The words MusicGen hears, and how a long take is cut into windows."""

import numpy as np
import pytest

from sparrow_common.params import Knobs
from sparrow_generation.domain import Continuation, describe
from sparrow_generation.engine.musicgen import MusicGenEngine, Segment


@pytest.mark.parametrize(
    "knobs, text",
    [
        (Knobs(prompt="warm rhodes, lazy swing"), "warm rhodes, lazy swing"),
        (Knobs(prompt=" dusty drums ", energy="high"), "dusty drums, high energy, driving"),
        (Knobs(tempo_feel="slower", density="sparse"), "slower tempo, sparse, minimal arrangement"),
        (
            Knobs(prompt="synth pad,", energy="low", tempo_feel="faster", density="dense"),
            "synth pad, low energy, calm, faster tempo, dense, full arrangement",
        ),
        (Knobs(), ""),
    ],
)
def test_description_from_prompt_and_knobs(knobs, text):
    assert describe(knobs) == text


def engine_with(window_s, stride_s):
    engine = MusicGenEngine("unused", window_s=window_s, stride_s=stride_s)
    engine.frame_rate = 50
    return engine


def request(duration_s, prompt_s):
    return Continuation(np.zeros((1, 0)), Knobs(duration_s=duration_s, prompt_duration_s=prompt_s), (1,))


def test_a_take_that_fits_the_window_is_one_call():
    assert engine_with(30, 18).plan(500, request(10, 5)) == [Segment(250, 500)]


def test_a_long_take_slides_the_window_by_the_stride():
    plan = engine_with(30, 18).plan(500, request(60, 5))
    assert plan[0] == Segment(250, 1250)
    assert all(s.prompt_frames == 600 and s.new_frames <= 900 for s in plan[1:])
    assert sum(s.new_frames for s in plan) == 3000
    assert all(s.prompt_frames + s.new_frames <= 1500 for s in plan)


def test_the_prompt_is_shortened_only_to_make_room():
    # 25 s of prompt and 10 s of new audio don't fit a 30 s window: hear 20 s.
    assert engine_with(30, 18).plan(2000, request(10, 25)) == [Segment(1000, 500)]
    # a context shorter than asked is heard whole
    assert engine_with(30, 18).plan(100, request(10, 5)) == [Segment(100, 500)]
