"""Shared values to and from their sparrow.v1 messages: a take's knobs and a
worker's capacity."""

from __future__ import annotations

from sparrow.v1 import common_pb2

from sparrow_common.model import ModelState
from sparrow_common.params import KNOBS, Knobs
from sparrow_common.slots import Slots

_DEFAULTS = Knobs()
_FIELDS = common_pb2.Knobs.DESCRIPTOR.fields_by_name


def _words(name: str) -> dict[int, str]:
    """A word knob's enum (tempo_feel: TempoFeel, TEMPO_FEEL_SLOWER...) by number: each of its choices."""
    enum = getattr(common_pb2, name.title().replace("_", ""))
    return {enum.Value(f"{name.upper()}_{choice.upper()}"): choice for choice in KNOBS[name].choices}


# 0 (unset) is none of them: the default.
_WORDS = {name: _words(name) for name, knob in KNOBS.items() if knob.choices}
# The message says which numbers can be unset (optional: seed, sampling); the
# others read 0 as unset, none of them allowing 0.
_OPTIONAL = tuple(name for name in KNOBS if _FIELDS[name].has_presence)
_ZERO_IS_DEFAULT = tuple(name for name in KNOBS if name not in _WORDS and name not in _OPTIONAL and name != "prompt")


def knobs_from_pb(msg: common_pb2.Knobs) -> Knobs:
    """Unset enums and zero or unset numbers take the defaults; ranges are checked later."""
    values = {"prompt": msg.prompt}
    for name, words in _WORDS.items():
        values[name] = words.get(getattr(msg, name), getattr(_DEFAULTS, name))
    for name in _ZERO_IS_DEFAULT:
        values[name] = getattr(msg, name) or getattr(_DEFAULTS, name)
    for name in _OPTIONAL:
        values[name] = getattr(msg, name) if msg.HasField(name) else getattr(_DEFAULTS, name)
    return Knobs(**values)


def knobs_to_pb(knobs: Knobs) -> common_pb2.Knobs:
    """The knobs alone: whatever else the object holds (a chain's recipe) stays behind."""
    msg = common_pb2.Knobs(prompt=knobs.prompt)
    for name, words in _WORDS.items():
        setattr(msg, name, next(number for number, word in words.items() if word == getattr(knobs, name)))
    for name in (*_ZERO_IS_DEFAULT, *_OPTIONAL):
        if getattr(knobs, name) is not None:
            setattr(msg, name, getattr(knobs, name))
    return msg


def capacity_to_pb(
    worker: str,
    slots: Slots,
    model: str,
    device: str,
    state: ModelState,
    *,
    supports_melody: bool,
    rows_in_flight: int = 0,
    steps_per_second: float = 0.0,
) -> common_pb2.Capacity:
    """What a GPU worker answers to GetCapacity; `supports_melody` says whether
    its loaded model can condition a take on a melody; a generation worker also
    says how many decoder rows it steps now and how fast it stepped last."""
    return common_pb2.Capacity(
        worker=worker,
        slots=slots.slots,
        busy=slots.busy,
        queued=slots.queued,
        queue_limit=slots.queue_limit,
        model=model,
        device=device,
        ready=state.ready,
        reason="" if state.ready else state.reason,
        supports_melody=state.ready and supports_melody,
        rows_in_flight=rows_in_flight,
        steps_per_second=steps_per_second,
    )
