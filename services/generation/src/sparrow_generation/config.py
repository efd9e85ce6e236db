"""Settings from the environment (prefix GENERATION_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Generation worker configuration; every field is GENERATION_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="GENERATION_")

    host: str = "127.0.0.1"
    port: int = 50052
    # A hub name (facebook/musicgen-small, -medium, -large, -stereo-*) or a local folder.
    model: str = "facebook/musicgen-small"
    # "auto" takes CUDA when present.
    device: str = "auto"
    # "none" or "int8" (dynamic quantization of the decoder's linear layers; CPU only).
    quantize: str = "none"
    # Calls running at once (each a batch of takes), and calls allowed to wait.
    slots: int = 1
    queue_limit: int = 8
    # The model's context window and how far each extension slides it (audiocraft's
    # max_duration and extend_stride).
    window_s: float = 30.0
    stride_s: float = 18.0
    # 0 leaves torch's default.
    torch_threads: int = 0
    grace_s: float = 30.0
    # Prometheus metrics over HTTP on this port (0: none).
    metrics_port: int = 9092
    log_level: str = "INFO"
