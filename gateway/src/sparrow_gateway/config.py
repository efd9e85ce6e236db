"""Settings from the environment (prefix GATEWAY_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Gateway configuration; every field is GATEWAY_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    host: str = "127.0.0.1"
    port: int = 8000
    chain_addr: str = "127.0.0.1:50051"
    # Generation workers to report in /api/gpu, comma-separated; a name that
    # resolves to several addresses (a headless Service) reports each pod.
    generation_addrs: str = "127.0.0.1:50052"
    # Stems workers, the same way.
    stems_addrs: str = "127.0.0.1:50053"
    max_upload_bytes: int = 100 * 1024 * 1024
    # Deadline of ordinary calls to the chain service.
    rpc_timeout_s: float = 10.0
    # Deadline of an upload, which streams the whole file.
    upload_timeout_s: float = 300.0
    # A watch is re-opened (from the last event seen) after this long.
    watch_deadline_s: float = 300.0
    sse_ping_s: float = 15.0
    cors_origins: list[str] = []
    # API keys as `sha256:<hex>=<user>:<free|paid>`, comma-separated (see accounts.py).
    api_keys: str = ""
    # Each tier's limits on takes (0: none): waiting or being made at once, and
    # asked per day (UTC). Past either, asking for takes is 429 with Retry-After.
    free_takes_waiting: int = 4
    free_takes_per_day: int = 40
    paid_takes_waiting: int = 16
    paid_takes_per_day: int = 400
    # Cookies are sent over HTTPS only when true (set it behind TLS).
    secure_cookies: bool = False
    # Prometheus metrics over HTTP on this port (0: none): a port of its own, so
    # the public one never shows them.
    metrics_port: int = 9090
    # Seconds SSE streams and uploads get to finish after SIGTERM.
    grace_s: float = 10.0
    log_level: str = "INFO"

    def take_limits(self, tier: str) -> tuple[int, int]:
        """(takes waiting at once, takes per day) for `tier` ("free" or "paid")."""
        return (
            (self.paid_takes_waiting, self.paid_takes_per_day)
            if tier == "paid"
            else (self.free_takes_waiting, self.free_takes_per_day)
        )
