"""The knobs of a generated take: names, allowed values and defaults, in one
place for the gateway's schema, the chain store and the generation worker."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sparrow_common.errors import InvalidArgument

CHOICES: dict[str, tuple[str, ...]] = {
    "energy": ("low", "medium", "high"),
    "tempo_feel": ("slower", "same", "faster"),
    "density": ("sparse", "medium", "dense"),
    "align": ("seconds", "bars"),
}
# Inclusive bounds of every number.
RANGES: dict[str, tuple[float, float]] = {
    "cfg_coef": (1.0, 10.0),
    "prompt_duration_s": (1.0, 30.0),
    "duration_s": (1.0, 120.0),
    "seed": (0, 2**63 - 1),
    "top_k": (0, 2048),
    "top_p": (0.0, 1.0),
    "temperature": (0.05, 5.0),
}
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
class GenerationParams:
    """What shapes a generated take. Ranges are checked by `validated`."""

    prompt: str = ""
    energy: str = "medium"
    tempo_feel: str = "same"
    density: str = "medium"
    # Classifier-free guidance: how closely the take follows the text.
    cfg_coef: float = 3.0
    # Seconds of the path so far that the model hears before continuing.
    prompt_duration_s: float = 5.0
    # Seconds of new audio.
    duration_s: float = 10.0
    seed: int | None = None
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    # "bars": the prompt starts on a downbeat of the path and the take lasts
    # whole bars at the parent's tempo (the chain service sets both from the
    # parent's analysis, or says why it kept to seconds).
    align: str = "seconds"
    # What the model hears of the path: "mix", or one stem's name (the chain
    # sends that stem of the path, split first when it has no stems yet).
    prompt_source: str = MIX

    def validated(self) -> GenerationParams:
        """Return self, or raise InvalidArgument naming the first value out of range."""
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise InvalidArgument(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise InvalidArgument(f"{name} must be between {low:g} and {high:g}")
        if self.prompt_source != MIX:
            check_stem_name(self.prompt_source, 'prompt_source ("mix" or a stem)')
        return self

    def with_seed(self, seed: int) -> GenerationParams:
        return replace(self, seed=seed)
