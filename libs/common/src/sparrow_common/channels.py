"""Client channels: made once per address, long-lived, with keepalive; and
request streams whose failure is the call's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager

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


class Requests:
    """A call's request stream that keeps the error raised while making it.

    gRPC cancels a call whose request iterator raises, and says why only in a
    DEBUG log: the caller's reply loop ends with a bare CancelledError (an
    export of a part whose audio was gone answered nothing for minutes).
    Read the replies inside `its_error_raised(requests)` to raise the error instead."""

    def __init__(self, requests: AsyncIterable):
        self._requests = requests
        self.error: Exception | None = None

    async def __aiter__(self) -> AsyncIterator:
        try:
            async for request in self._requests:
                yield request
        except Exception as error:
            self.error = error
            raise


@contextmanager
def its_error_raised(requests: Requests) -> Iterator[None]:
    """Around a call's reply loop: when the call ended because `requests`
    raised, that error comes out of it, not the cancellation."""
    try:
        yield
    except (asyncio.CancelledError, grpc.aio.AioRpcError):
        if requests.error is not None:
            raise requests.error from None
        raise
