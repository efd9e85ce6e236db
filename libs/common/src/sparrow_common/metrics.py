"""Prometheus metrics every service shares: its gRPC calls (counted by method and
status code, timed by method) and, for workers, their slots. Each gRPC service
serves them over HTTP on its own port (<SERVICE>_METRICS_PORT, 0 turns it off)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from sparrow_common.slots import Slots

log = logging.getLogger(__name__)

RPCS = Counter(
    "sparrow_rpc_handled", "gRPC calls this server finished, by method and status code", ["method", "code"]
)
RPC_SECONDS = Histogram(
    "sparrow_rpc_duration_seconds",
    "How long this server took over a gRPC call, streams included",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)


def serve_metrics(host: str, port: int) -> None:
    """Serve /metrics on `host:port` from a background thread; port 0 serves nothing."""
    if port <= 0:
        return
    start_http_server(port, addr=host)
    log.info("metrics on http://%s:%d/metrics", host, port)


_slots: Slots | None = None
Gauge("sparrow_worker_slots", "Calls this worker runs at once").set_function(
    lambda: _slots.slots if _slots else 0
)
Gauge("sparrow_worker_slots_busy", "Slots running a call now").set_function(lambda: _slots.busy if _slots else 0)
Gauge("sparrow_worker_queued", "Calls waiting for a slot").set_function(lambda: _slots.queued if _slots else 0)


def watch_slots(slots: Slots) -> None:
    """Export this worker's slots: how many, how many busy, how many calls wait."""
    global _slots
    _slots = slots
