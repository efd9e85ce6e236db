"""Client channels: made once per address, long-lived, with keepalive."""

from __future__ import annotations

import json

import grpc

from sparrow_common.server import GRPC_OPTIONS

_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def open_channel(address: str) -> grpc.aio.Channel:
    """An insecure aio channel that balances round-robin over every address the
    name resolves to (a headless Service gives one per pod)."""
    return grpc.aio.insecure_channel(
        address,
        options=[
            *GRPC_OPTIONS,
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            # A restarted pod is found within seconds, not after minutes of backoff.
            ("grpc.initial_reconnect_backoff_ms", 500),
            ("grpc.max_reconnect_backoff_ms", 5_000),
        ],
    )
