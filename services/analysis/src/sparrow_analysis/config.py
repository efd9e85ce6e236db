"""Settings from the environment (prefix ANALYSIS_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Analysis worker configuration; every field is ANALYSIS_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="ANALYSIS_")

    host: str = "127.0.0.1"
    port: int = 50055
    # Calls running at once (each on one core), and calls allowed to wait.
    slots: int = 2
    queue_limit: int = 32
    # Longer clips are refused before they are decoded.
    max_duration_s: float = 1200.0
    grace_s: float = 30.0
    # Prometheus metrics over HTTP on this port (0: none).
    metrics_port: int = 9095
    log_level: str = "INFO"
