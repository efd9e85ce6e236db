"""Builds and runs the generation worker: serve at once, load the model behind."""

from __future__ import annotations

import torch
from sparrow.v1 import generation_pb2, generation_pb2_grpc
from sparrow_common.metrics import serve_metrics
from sparrow_common.model import WorkerServer, start_worker

from sparrow_generation.config import Settings
from sparrow_generation.engine import Engine
from sparrow_generation.engine.musicgen import MusicGenEngine
from sparrow_generation.servicer import GenerationServicer

SERVICE_NAME = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name


async def build_server(settings: Settings, engine: Engine | None = None) -> WorkerServer:
    """Start serving at once (health NOT_SERVING, GetCapacity saying why) and load
    the model in the background; health turns SERVING when it is loaded."""
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)
    engine = engine or MusicGenEngine(
        settings.model, settings.device, settings.quantize, settings.window_s, settings.stride_s, settings.dtype,
        cuda_graphs=settings.cuda_graphs,
    )
    return await start_worker(
        settings, engine, "generation", SERVICE_NAME,
        lambda slots, state, worker: GenerationServicer(engine, slots, state, worker),
        generation_pb2_grpc.add_GenerationServiceServicer_to_server,
    )


async def serve(settings: Settings) -> None:
    server = await build_server(settings)
    serve_metrics(settings.host, settings.metrics_port)
    await server.serve(settings.grace_s)
