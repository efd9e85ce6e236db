"""Liveness and readiness for probes and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sparrow_gateway.api.deps import Chain

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz():
    """The gateway process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(chain: Chain):
    """Ready only while the chain service answers its health check with SERVING."""
    if await chain.ready():
        return {"status": "ready", "chain": "serving"}
    return JSONResponse({"status": "not ready", "chain": "not serving"}, status_code=503)
