"""Settings from the environment (prefix CHAIN_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from sparrow_common.audio import AudioLimits


class Settings(BaseSettings):
    """Chain service configuration; every field is CHAIN_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="CHAIN_")

    host: str = "127.0.0.1"
    port: int = 50051
    # SQLite (WAL) by default; postgresql+psycopg://user@host/db in production.
    database_url: str = "sqlite:///./data/sparrow.db"
    # Seconds PostgreSQL has to accept a connection (and the pool to free one)
    # before requests are answered 503, the database away.
    database_timeout_s: int = 5
    blob_dir: str = "./data/blobs"
    max_upload_bytes: int = 100 * 1024 * 1024
    # The longest clip an upload may decode to (20 minutes), whatever its size
    # in bytes; rates outside 8-192 kHz and more than 8 channels are refused too.
    max_audio_s: float = AudioLimits.max_duration_s
    # Threads for checking uploads and decoding audio, apart from the store's reads.
    audio_threads: int = 2
    # How often a watcher looks at the log when nothing woke it. On PostgreSQL
    # other replicas' writes wake it at once (LISTEN/NOTIFY); this is the safety net.
    watch_poll_s: float = 1.0
    # The generation workers (a headless Service name balances over every pod).
    generation_addr: str = "127.0.0.1:50052"
    # Jobs of every kind this replica runs at once (a batch of takes, a split,
    # an analysis); 0 makes a replica that serves the API but leaves the jobs to others.
    dispatch_slots: int = 4
    # A job's lease; renewed every third of it while the job runs.
    lease_s: float = 30.0
    # Tries of a job whose worker died or was unreachable, before it ends in error.
    max_attempts: int = 3
    # First retry after this long, doubling each time.
    retry_base_s: float = 2.0
    # How long a job waits for its worker to be reachable before it ends in
    # error (a restarting pod is back well within this).
    worker_wait_s: float = 120.0
    generate_deadline_s: float = 3600.0
    # Progress is written at most this often.
    progress_interval_s: float = 0.5
    # How often to look for claimable jobs when nothing woke the dispatcher.
    job_poll_s: float = 1.0
    # The stems workers.
    stems_addr: str = "127.0.0.1:50053"
    stems_deadline_s: float = 3600.0
    # The stems models a request may pick, comma-separated, the default first:
    # the stems workers' STEMS_MODELS.
    stems_models: str = "htdemucs"
    # The analysis worker (tempo, bars, key, loudness, seam reports); empty: no
    # analysis, nodes carry none.
    analysis_addr: str = ""
    analysis_deadline_s: float = 600.0
    # At most this many of a user's analyses in the queue: an upload past it is
    # stored as ever, its analysis held its turn (store/analyses.py), none dropped.
    analysis_queue_per_user: int = 20
    # The export workers.
    export_addr: str = "127.0.0.1:50054"
    export_deadline_s: float = 600.0
    grace_s: float = 10.0
    # Discarded nodes wait in their chain's bin, restorable, this long (a
    # week), then they and their audio are deleted for good.
    bin_ttl_s: float = 7 * 24 * 3600.0
    # Prometheus metrics over HTTP on this port (0: none).
    metrics_port: int = 9091
    log_level: str = "INFO"

    @property
    def stems_model_ids(self) -> list[str]:
        return [name.strip() for name in self.stems_models.split(",") if name.strip()]
