"""The knobs' rules and their trip through protobuf."""

import pytest

from sparrow_common.convert import knobs_from_pb, knobs_to_pb
from sparrow_common.errors import InvalidArgument
from sparrow_common.params import KNOBS, Knobs
from sparrow.v1 import common_pb2


def test_defaults_are_valid():
    assert Knobs().validated() == Knobs()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"prompt": "x" * 1001}, "prompt"),
        ({"energy": "extreme"}, "energy"),
        ({"tempo_feel": "double"}, "tempo_feel"),
        ({"density": "thick"}, "density"),
        ({"duration_s": 0.5}, "duration_s"),
        ({"duration_s": float("inf")}, "duration_s"),
        ({"duration_s": float("nan")}, "duration_s"),
        ({"prompt_duration_s": 31}, "prompt_duration_s"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_out_of_range_values_name_the_field(change, field):
    with pytest.raises(InvalidArgument, match=field):
        Knobs(**change).validated()


def test_round_trip_through_protobuf_keeps_every_value():
    knobs = Knobs(
        prompt="dusty drums", energy="high", tempo_feel="slower", density="sparse", cfg_coef=4.5,
        prompt_duration_s=8, duration_s=20, seed=123, top_k=0, top_p=0.9, temperature=0.7,
    )
    assert knobs_from_pb(knobs_to_pb(knobs)) == knobs


def test_every_choice_of_a_word_knob_has_its_own_value_on_the_wire():
    for name, knob in KNOBS.items():
        if knob.choices:
            sent = {choice: getattr(knobs_to_pb(Knobs(**{name: choice})), name) for choice in knob.choices}
            assert len(set(sent.values())) == len(knob.choices) and 0 not in sent.values(), name
            assert all(getattr(knobs_from_pb(knobs_to_pb(Knobs(**{name: c}))), name) == c for c in sent), name


def test_an_empty_message_means_the_defaults_and_no_seed():
    assert knobs_from_pb(common_pb2.Knobs()) == Knobs()


def test_a_word_the_protocol_does_not_know_means_the_default():
    assert knobs_from_pb(common_pb2.Knobs(energy=99)).energy == Knobs().energy


def test_the_protocol_carries_every_knob_and_nothing_else():
    assert list(common_pb2.Knobs.DESCRIPTOR.fields_by_name) == list(KNOBS)


def test_a_number_the_protocol_cannot_leave_unset_never_allows_zero():
    # Such a number reads 0 as "unset, take the default"; a knob that allowed 0 would lose it.
    for field in common_pb2.Knobs.DESCRIPTOR.fields:
        knob = KNOBS[field.name]
        if not field.has_presence and knob.low is not None:
            assert knob.low > 0, field.name
