"""Engines turn a Continuation into takes. Transport stays out of here."""

from sparrow_generation.engine.base import Cancelled, Engine, ModelUnavailable, StepCallback

__all__ = ["Cancelled", "Engine", "ModelUnavailable", "StepCallback"]
