"""The knobs of a generated take: names, allowed values and defaults, in one
place for the gateway's schema, the chain store and the generation worker."""

from __future__ import annotations

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
        return self

    def with_seed(self, seed: int) -> GenerationParams:
        return replace(self, seed=seed)
