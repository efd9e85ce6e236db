"""Shared values to and from their sparrow.v1 messages: generation parameters
and a worker's capacity."""

from __future__ import annotations

from sparrow.v1 import common_pb2

from sparrow_common.model import ModelState
from sparrow_common.params import GenerationParams
from sparrow_common.slots import Slots

_ENUMS = {
    "energy": {1: "low", 2: "medium", 3: "high"},
    "tempo_feel": {1: "slower", 2: "same", 3: "faster"},
    "density": {1: "sparse", 2: "medium", 3: "dense"},
    "align": {1: "seconds", 2: "bars"},
}
_OPTIONAL = ("seed", "top_k", "top_p", "temperature")
_ZERO_IS_DEFAULT = ("cfg_coef", "prompt_duration_s", "duration_s")


def params_from_pb(msg: common_pb2.GenerationParams) -> GenerationParams:
    """Unset enums and zero or unset numbers take the defaults; ranges are checked later."""
    defaults = GenerationParams()
    values = {"prompt": msg.prompt, "prompt_source": msg.prompt_source or defaults.prompt_source}
    for name, table in _ENUMS.items():
        values[name] = table.get(getattr(msg, name), getattr(defaults, name))
    for name in _ZERO_IS_DEFAULT:
        values[name] = getattr(msg, name) or getattr(defaults, name)
    for name in _OPTIONAL:
        values[name] = getattr(msg, name) if msg.HasField(name) else getattr(defaults, name)
    return GenerationParams(**values)


def params_to_pb(params: GenerationParams) -> common_pb2.GenerationParams:
    msg = common_pb2.GenerationParams(prompt=params.prompt, prompt_source=params.prompt_source)
    for name, table in _ENUMS.items():
        setattr(msg, name, next(k for k, v in table.items() if v == getattr(params, name)))
    for name in (*_ZERO_IS_DEFAULT, *_OPTIONAL):
        if getattr(params, name) is not None:
            setattr(msg, name, getattr(params, name))
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
