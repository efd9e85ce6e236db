"""Builds and runs the stems worker: serve at once, load the model behind."""

from __future__ import annotations

import torch
from sparrow.v1 import stems_pb2, stems_pb2_grpc
from sparrow_common.metrics import serve_metrics
from sparrow_common.model import WorkerServer, start_worker

from sparrow_stems.config import Settings
from sparrow_stems.engine import Engine
from sparrow_stems.engine.demucs import DemucsEngine
from sparrow_stems.servicer import StemsServicer

SERVICE_NAME = stems_pb2.DESCRIPTOR.services_by_name["StemsService"].full_name


async def build_server(settings: Settings, engine: Engine | None = None) -> WorkerServer:
    """Start serving at once (health NOT_SERVING, GetCapacity saying why) and
    load the model in the background; health turns SERVING when it is loaded."""
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)
    engine = engine or DemucsEngine(
        settings.model_ids, settings.model_dir, settings.device, settings.overlap, cache_dir=settings.cache_dir
    )
    return await start_worker(
        settings, engine, "stem separation", SERVICE_NAME,
        lambda slots, state, worker: StemsServicer(engine, slots, state, worker, settings.max_duration_s),
        stems_pb2_grpc.add_StemsServiceServicer_to_server,
    )


async def serve(settings: Settings) -> None:
    server = await build_server(settings)
    serve_metrics(settings.host, settings.metrics_port)
    await server.serve(settings.grace_s)
