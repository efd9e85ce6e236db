"""Client channels: made once per address, long-lived, with keepalive."""

from __future__ import annotations

import json

import grpc

from sparrow_common.server import GRPC_OPTIONS, keepalive_s

_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def _keepalive() -> list[tuple[str, int]]:
    """Ping a quiet connection every SPARROW_KEEPALIVE_S, as servers allow
    (server.server_options), whether or not a call is open on it: a peer
    gone without a word is found within the interval and the ping's timeout.
    gRPC's default client stops after two pings while nothing else is sent,
    which leaves a long idle watch unchecked; 0 keeps pinging."""
    interval_ms = int(keepalive_s() * 1000)
    return [
        ("grpc.keepalive_time_ms", interval_ms),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def open_channel(address: str) -> grpc.aio.Channel:
    """An insecure aio channel that balances round-robin over every address the
    name resolves to (a headless Service gives one per pod)."""
    return grpc.aio.insecure_channel(
        address,
        options=[
            *GRPC_OPTIONS,
            ("grpc.service_config", _SERVICE_CONFIG),
            *_keepalive(),
            # A restarted pod is found within seconds, not after minutes of backoff.
            ("grpc.initial_reconnect_backoff_ms", 500),
            ("grpc.max_reconnect_backoff_ms", 5_000),
        ],
    )
