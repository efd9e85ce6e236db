"""Builds and runs the export worker: nothing to load, SERVING at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sparrow.v1 import export_pb2, export_pb2_grpc

from sparrow_common.metrics import serve_metrics
from sparrow_common.server import RunningServer, start_server, wait_for_shutdown
from sparrow_export.config import Settings
from sparrow_export.servicer import ExportServicer

log = logging.getLogger(__name__)

SERVICE_NAME = export_pb2.DESCRIPTOR.services_by_name["ExportService"].full_name


@dataclass
class ExportServer:
    running: RunningServer
    servicer: ExportServicer

    async def close(self, grace_s: float = 0) -> None:
        await self.running.server.stop(grace_s)


async def build_server(settings: Settings) -> ExportServer:
    """Start serving; health is SERVING at once (there is no model to load)."""
    servicer = ExportServicer(max_input_bytes=settings.max_input_bytes)
    running = await start_server(
        host=settings.host,
        port=settings.port,
        register=lambda server: export_pb2_grpc.add_ExportServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
    )
    await running.set_serving(True)
    return ExportServer(running, servicer)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM, then drain gracefully."""
    server = await build_server(settings)
    serve_metrics(settings.host, settings.metrics_port)
    await wait_for_shutdown(server.running, settings.grace_s)
