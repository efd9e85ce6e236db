"""Builds and runs the stems worker: serve at once, load the model behind."""

from __future__ import annotations

import asyncio
import logging
import socket

import torch
from sparrow.v1 import stems_pb2, stems_pb2_grpc
from sparrow_common.metrics import serve_metrics, watch_slots
from sparrow_common.model import ModelState, WorkerServer, load_in_background
from sparrow_common.server import start_server
from sparrow_common.slots import Slots

from sparrow_stems.config import Settings
from sparrow_stems.engine import Engine
from sparrow_stems.engine.demucs import DemucsEngine
from sparrow_stems.servicer import StemsServicer

log = logging.getLogger(__name__)

SERVICE_NAME = stems_pb2.DESCRIPTOR.services_by_name["StemsService"].full_name


async def build_server(settings: Settings, engine: Engine | None = None) -> WorkerServer:
    """Start serving at once (health NOT_SERVING, GetStemsCapacity saying why) and
    load the model in the background; health turns SERVING when it is loaded."""
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)
    engine = engine or DemucsEngine(settings.model, settings.model_dir, settings.device, settings.overlap)
    state = ModelState()
    slots = Slots(settings.slots, settings.queue_limit)
    watch_slots(slots)
    servicer = StemsServicer(
        engine, slots, state, worker=f"{socket.gethostname()}:{settings.port}", max_duration_s=settings.max_duration_s
    )
    running = await start_server(
        host=settings.host,
        port=settings.port,
        register=lambda server: stems_pb2_grpc.add_StemsServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
    )
    servicer.worker = f"{socket.gethostname()}:{running.port}"
    loading = asyncio.create_task(load_in_background(engine, state, running, "stem separation"))
    return WorkerServer(running, servicer, loading)


async def serve(settings: Settings) -> None:
    server = await build_server(settings)
    serve_metrics(settings.host, settings.metrics_port)
    await server.serve(settings.grace_s)
