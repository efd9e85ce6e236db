"""Settings from the environment (prefix STEMS_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Stems worker configuration; every field is STEMS_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="STEMS_")

    host: str = "127.0.0.1"
    port: int = 50053
    # The models offered, comma-separated, the default first; a request picks
    # one by name. Each loads from model_dir when it is there (demucs's local
    # repository format: <model>.yaml naming the signatures of its
    # <signature>-<checksum>.th files), else as Meta's release of that name.
    models: str = "htdemucs"
    model_dir: str = "data/models/demucs"
    # Meta's released models by name (htdemucs, htdemucs_ft, htdemucs_6s, ...)
    # download here once, when the model is not in model_dir.
    cache_dir: str = "data/models/demucs-cache"
    # "auto" takes CUDA when present.
    device: str = "auto"
    # Calls running at once, and calls allowed to wait.
    slots: int = 1
    queue_limit: int = 8
    # How much neighbouring segments overlap (demucs's --overlap); their seams are cross-faded.
    overlap: float = 0.25
    # Longer audio is refused before it reaches the model: the four stems of a
    # 20-minute song already take about 1.7 GB of memory.
    max_duration_s: float = 1200.0
    # 0 leaves torch's default.
    torch_threads: int = 0
    grace_s: float = 30.0
    # Prometheus metrics over HTTP on this port (0: none).
    metrics_port: int = 9093
    log_level: str = "INFO"

    @property
    def model_ids(self) -> list[str]:
        return [name.strip() for name in self.models.split(",") if name.strip()]
