"""Reading a service's Prometheus metrics in tests and benchmarks."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def metric(port: int, name: str, **labels: str) -> float:
    """The sum of the samples called `name` on the /metrics a service serves on
    this machine's `port` whose labels include `labels`; 0 when there are none."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
