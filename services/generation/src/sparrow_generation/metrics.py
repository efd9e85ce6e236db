"""The generation worker's own Prometheus metrics (its slots and calls are in
sparrow_common.metrics)."""

from collections.abc import Callable

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _EngineSteps(Collector):
    """A counter the engine keeps itself: `read` gives its total."""

    def __init__(self, name: str, documentation: str):
        self.name, self.documentation = name, documentation
        self.read: Callable[[], float] = lambda: 0

    def collect(self):
        yield CounterMetricFamily(self.name, self.documentation, value=self.read())


DECODING_STEPS = _EngineSteps(
    "sparrow_generation_decoding_steps",
    "Decoding steps the model ran, each for every row in flight (rate() gives steps per second)",
)
REGISTRY.register(DECODING_STEPS)
STEPS_PER_SECOND = Gauge(
    "sparrow_generation_decoding_steps_per_second", "Decoding steps per second over the latest 64 steps"
)
ROWS_IN_FLIGHT = Gauge(
    "sparrow_generation_rows_in_flight", "Decoder rows the model steps now (each take, twice with guidance)"
)
MAX_ROWS = Gauge("sparrow_generation_rows_max", "Decoder rows this worker steps at most (GENERATION_MAX_ROWS)")
TAKES = Counter("sparrow_generation_takes", "Takes this worker generated and sent")
AUDIO_SECONDS = Counter("sparrow_generation_audio_seconds", "Seconds of audio this worker generated")
