"""Engines split a Mix into Stems. Transport stays out of here."""

from sparrow_stems.engine.base import Cancelled, Engine, ModelUnavailable, StepCallback

__all__ = ["Cancelled", "Engine", "ModelUnavailable", "StepCallback"]
