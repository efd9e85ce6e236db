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
    # The decoder's precision: auto (bfloat16 on CUDA, float32 on the CPU), float32,
    # float16 or bfloat16. EnCodec and T5 always run in float32.
    dtype: str = "auto"
    # auto (int8 on the CPU, none on CUDA), none or int8 (dynamic quantization of
    # the decoder's linear layers; CPU only).
    quantize: str = "auto"
    # Decoder rows stepped at once, across every call in flight (a take is one
    # row, two with guidance); calls past them wait in line, up to queue_limit,
    # and past that are refused (RESOURCE_EXHAUSTED).
    max_rows: int = 64
    queue_limit: int = 32
    # The model's context window and how far each extension slides it (audiocraft's
    # max_duration and extend_stride).
    window_s: float = 30.0
    stride_s: float = 18.0
    # On CUDA, replay each decoding step from a CUDA graph (engine/rows.py).
    cuda_graphs: bool = True
    # 0 leaves torch's default.
    torch_threads: int = 0
    grace_s: float = 30.0
    # Prometheus metrics over HTTP on this port (0: none).
    metrics_port: int = 9092
    log_level: str = "INFO"

    @property
    def slots(self) -> int:
        """The worker's slots are its decoder rows (sparrow_common.model.start_worker)."""
        return self.max_rows
