"""The knobs' rules and their trip through protobuf."""

import pytest

from sparrow_common.convert import params_from_pb, params_to_pb
from sparrow_common.errors import InvalidArgument
from sparrow_common.params import GenerationParams
from sparrow.v1 import common_pb2


def test_defaults_are_valid():
    assert GenerationParams().validated() == GenerationParams()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"prompt": "x" * 1001}, "prompt"),
        ({"energy": "extreme"}, "energy"),
        ({"tempo_feel": "double"}, "tempo_feel"),
        ({"density": "thick"}, "density"),
        ({"duration_s": 0.5}, "duration_s"),
        ({"duration_s": float("inf")}, "duration_s"),
        ({"prompt_duration_s": 31}, "prompt_duration_s"),
        ({"seed": -1}, "seed"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_out_of_range_values_name_the_field(change, field):
    with pytest.raises(InvalidArgument, match=field):
        GenerationParams(**change).validated()


def test_round_trip_through_protobuf_keeps_every_value():
    params = GenerationParams(
        prompt="dusty drums", energy="high", tempo_feel="slower", density="sparse", cfg_coef=4.5,
        prompt_duration_s=8, duration_s=20, seed=123, top_k=0, top_p=0.9, temperature=0.7,
    )
    assert params_from_pb(params_to_pb(params)) == params


def test_an_empty_message_means_the_defaults_and_no_seed():
    assert params_from_pb(common_pb2.GenerationParams()) == GenerationParams()
