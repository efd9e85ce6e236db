"""The FastAPI app, built by a factory so tests and servers choose its settings."""

from __future__ import annotations

from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from prometheus_fastapi_instrumentator import Instrumentator

from sparrow_gateway.api.errors import UploadLimit, grpc_error_handler, validation_error_handler
from sparrow_gateway.api.request_ids import RequestIds
from sparrow_gateway.api.routes import chains, events, export, gpu, health, nodes, presets, session, stems, web
from sparrow_gateway.accounts import Accounts
from sparrow_gateway.capacity import CapacityClient
from sparrow_gateway.chain_client import ChainClient
from sparrow_gateway.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """A gateway app; its gRPC channel opens at startup and closes at shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.chain = ChainClient(settings)
        app.state.capacity = CapacityClient(settings)
        try:
            yield
        finally:
            await app.state.chain.close()
            await app.state.capacity.close()

    app = FastAPI(
        title="Sparrow",
        version="0.1.0",
        description="AI music continuation editor: chains of clips continued by MusicGen.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.accounts = Accounts(settings.api_keys)
    app.add_exception_handler(grpc.aio.AioRpcError, grpc_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )
    # Outermost, so every log line of the request, and the answer, carry the id.
    app.add_middleware(RequestIds)
    for module in (health, session, chains, events, export, nodes, stems, presets, gpu, web):
        app.include_router(module.router)
    app.mount("/app", web.assets(), name="app")
    # Requests by route, method and status, and their latency, served on
    # GATEWAY_METRICS_PORT (see __main__), not on the public port.
    Instrumentator(excluded_handlers=["/healthz", "/readyz"]).instrument(app)
    return app
