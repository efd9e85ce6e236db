"""The chain service's Prometheus metrics: the job queue as the database holds
it (so every replica reports the same, whole picture) and how this replica's
dispatcher ends jobs."""

from __future__ import annotations

import logging

from prometheus_client import Counter
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from sparrow_chain.store import JobQueue
from sparrow_chain.store.base import ANALYSIS
from sparrow_chain.store.stems import STEMS
from sparrow_chain.store.takes import TAKES

log = logging.getLogger(__name__)

KINDS = (TAKES, STEMS, ANALYSIS)
STATES = ("queued", "running", "held")

JOBS_ENDED = Counter(
    "sparrow_jobs_ended", "Jobs this replica's dispatcher ended, by kind and outcome", ["kind", "outcome"]
)


class _JobsCollector(Collector):
    def __init__(self, queue: JobQueue):
        self.queue = queue

    def collect(self):
        by_state = GaugeMetricFamily("sparrow_jobs", "Jobs in the queue, by kind and state", labels=["kind", "state"])
        depth = GaugeMetricFamily(
            "sparrow_queue_depth", "Jobs waiting that a dispatcher could claim now", labels=["kind"]
        )
        try:
            counts, waiting = self.queue.counts()
        except Exception:  # noqa: BLE001 - a scrape must not fail for a database blip
            log.warning("counting jobs for metrics failed", exc_info=True)
            return
        for kind in KINDS:
            for state in STATES:
                by_state.add_metric([kind, state], counts.get((kind, state), 0))
            depth.add_metric([kind], waiting.get(kind, 0))
        yield by_state
        yield depth


_collector: _JobsCollector | None = None


def watch_jobs(queue: JobQueue) -> None:
    """Report this queue's jobs on /metrics (the latest queue given wins)."""
    global _collector
    if _collector is None:
        _collector = _JobsCollector(queue)
        REGISTRY.register(_collector)
    _collector.queue = queue
