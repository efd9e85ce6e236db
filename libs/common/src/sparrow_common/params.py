"""The knobs of a generated take: what the model hears, each with its default,
its allowed values and its meaning in words, written once here.

Everything else reads these fields: the gateway builds its request schema from
them (descriptions, bounds, choices and examples), sparrow_common.convert
carries them in the protocol's Knobs message, the chain keeps them in each
take's recipe, and the generation worker hears nothing else. What the chain works out
before it asks (where the prompt starts, which stem of the path is heard,
from which second, on which melody) is the chain's, and never reaches a worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sparrow_common.errors import InvalidArgument

MAX_PROMPT_CHARS = 1000
MAX_TAKES = 8
# A stem as a model names it: drums, bass, other, vocals, guitar, piano...
STEM_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
# What the model hears of the path when not one stem.
MIX = "mix"


def check_stem_name(name: str, what: str = "stem") -> str:
    """`name` when it can name a stem; else InvalidArgument saying what it must be."""
    if not STEM_NAME.fullmatch(name) or name == MIX:
        raise InvalidArgument(
            f"{what} must name a stem (drums, bass, other, vocals, guitar, piano...): "
            "lowercase letters, digits and _, up to 16"
        )
    return name


@dataclass(frozen=True)
class Knob:
    """What one knob means and allows: its words for the API's docs, and its
    choices (a word knob), or inclusive bounds (a number), or longest text."""

    doc: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    max_chars: int | None = None
    # What the API's docs show as a value to try; None: the default.
    example: Any = None


def _knob(default: Any, doc: str, **rules: Any) -> Any:
    return field(default=default, metadata={"knob": Knob(doc, **rules)})


@dataclass(frozen=True)
class Knobs:
    """What the model hears for a take. Values are checked by `validated`."""

    prompt: str = _knob(
        "", "Free text describing the music.", max_chars=MAX_PROMPT_CHARS, example="warm rhodes, lazy swing"
    )
    energy: str = _knob("medium", "How much drive the continuation has.", choices=("low", "medium", "high"))
    tempo_feel: str = _knob(
        "same", "How the tempo should feel against the context.", choices=("slower", "same", "faster")
    )
    density: str = _knob("medium", "How busy the arrangement is.", choices=("sparse", "medium", "dense"))
    # Classifier-free guidance: with it above 1 each take costs two decoder rows.
    cfg_coef: float = _knob(
        3.0, "Guidance: how closely the take follows the text (1 to 10).", low=1.0, high=10.0
    )
    prompt_duration_s: float = _knob(
        5.0, "Seconds of the path so far the model hears (1 to 30).", low=1.0, high=30.0
    )
    duration_s: float = _knob(10.0, "Seconds of new audio (1 to 120).", low=1.0, high=120.0)
    # A signed 64-bit integer on the wire, so at most 2**63 - 1.
    seed: int | None = _knob(
        None, "Same seed and parameters give the same take; random when absent.", low=0, high=2**63 - 1, example=1234
    )
    top_k: int = _knob(250, "Sample from the k most likely tokens (0 turns it off).", low=0, high=2048)
    top_p: float = _knob(0.0, "Nucleus sampling mass (0 turns it off).", low=0.0, high=1.0)
    temperature: float = _knob(1.0, "Sampling temperature (0.05 to 5).", low=0.05, high=5.0)

    def validated(self) -> Knobs:
        """Return self, or raise InvalidArgument naming the first knob out of range."""
        for name, knob in KNOBS.items():
            value = getattr(self, name)
            if knob.max_chars is not None and len(value) > knob.max_chars:
                raise InvalidArgument(f"{name} is longer than {knob.max_chars} characters")
            if knob.choices and value not in knob.choices:
                raise InvalidArgument(f"{name} must be one of {', '.join(knob.choices)}")
            if knob.low is not None and value is not None and not knob.low <= value <= knob.high:
                raise InvalidArgument(f"{name} must be between {knob.low:g} and {knob.high:g}")
        return self

    def with_seed(self, seed: int) -> Knobs:
        return replace(self, seed=seed)


# Every knob by name, in the order the API lists them.
KNOBS: dict[str, Knob] = {f.name: f.metadata["knob"] for f in fields(Knobs)}
# Inclusive bounds of every number.
RANGES: dict[str, tuple[float, float]] = {n: (k.low, k.high) for n, k in KNOBS.items() if k.low is not None}
