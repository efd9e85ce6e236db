"""Builds and runs the analysis worker: serve at once, warm up behind."""

from __future__ import annotations

from sparrow.v1 import analysis_pb2, analysis_pb2_grpc
from sparrow_common.metrics import serve_metrics
from sparrow_common.model import WorkerServer, start_worker

from sparrow_analysis.config import Settings
from sparrow_analysis.engine.listening import Listener
from sparrow_analysis.servicer import AnalysisServicer

SERVICE_NAME = analysis_pb2.DESCRIPTOR.services_by_name["AnalysisService"].full_name


async def build_server(settings: Settings, engine: Listener | None = None) -> WorkerServer:
    """Start serving at once (health NOT_SERVING) and compile the analysis's
    kernels in the background; health turns SERVING when they are ready."""
    engine = engine or Listener()
    return await start_worker(
        settings,
        engine,
        "analysis",
        SERVICE_NAME,
        lambda slots, state, worker: AnalysisServicer(engine, slots, state, worker, settings.max_duration_s),
        analysis_pb2_grpc.add_AnalysisServiceServicer_to_server,
    )


async def serve(settings: Settings) -> None:
    server = await build_server(settings)
    serve_metrics(settings.host, settings.metrics_port)
    await server.serve(settings.grace_s)
