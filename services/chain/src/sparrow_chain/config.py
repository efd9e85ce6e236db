"""Settings from the environment (prefix CHAIN_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Chain service configuration; every field is CHAIN_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="CHAIN_")

    host: str = "127.0.0.1"
    port: int = 50051
    # SQLite (WAL) by default; postgresql+psycopg://user@host/db in production.
    database_url: str = "sqlite:///./data/sparrow.db"
    blob_dir: str = "./data/blobs"
    max_upload_bytes: int = 100 * 1024 * 1024
    # How often a watcher looks at the log when nothing woke it (other replicas' writes).
    watch_poll_s: float = 1.0
    grace_s: float = 10.0
    log_level: str = "INFO"
