"""The generation worker's own Prometheus metrics (its slots and calls are in
sparrow_common.metrics)."""

from prometheus_client import Counter, Gauge

DECODING_STEPS = Counter(
    "sparrow_generation_decoding_steps", "Decoding steps the model ran (rate() gives steps per second)"
)
STEPS_PER_SECOND = Gauge(
    "sparrow_generation_decoding_steps_per_second", "Decoding steps per second over the last call"
)
ROWS_IN_FLIGHT = Gauge(
    "sparrow_generation_rows_in_flight", "Decoder rows the model steps now (each take, twice with guidance)"
)
TAKES = Counter("sparrow_generation_takes", "Takes this worker generated and sent")
AUDIO_SECONDS = Counter("sparrow_generation_audio_seconds", "Seconds of audio this worker generated")
