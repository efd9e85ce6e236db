"""What every worker's engine shares, with no transport in it: the engines
import this, never the gRPC plumbing (sparrow_common.model) that serves them."""

from __future__ import annotations

from typing import Protocol

# What a take conditioned on a melody needs loaded, in words for a refusal.
MELODY_CHECKPOINTS = "facebook/musicgen-melody, -melody-large, -stereo-melody or -stereo-melody-large"


class ModelUnavailable(Exception):
    """The model could not be loaded; the message says why in words."""


class Cancelled(Exception):
    """The caller went away and the engine stopped early."""


class WorkerEngine(Protocol):
    """What every GPU worker's engine has; each service's Engine adds its work."""

    model_id: str
    device: str
    sample_rate: int
    channels: int

    def load(self) -> None:
        """Load the model; raises ModelUnavailable with the reason."""
