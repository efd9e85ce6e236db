"""Settings from the environment (prefix EXPORT_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Export worker configuration; every field is EXPORT_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="EXPORT_")

    host: str = "127.0.0.1"
    port: int = 50054
    # All clips of one render together, as sent (encoded); past it INVALID_ARGUMENT.
    max_input_bytes: int = 1024 * 1024 * 1024
    grace_s: float = 30.0
    # Prometheus metrics over HTTP on this port (0: none).
    metrics_port: int = 9094
    log_level: str = "INFO"
