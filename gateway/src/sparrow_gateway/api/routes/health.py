"""Liveness and readiness for probes and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz():
    """The gateway process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The chain service is not SERVING."}})
async def readyz(request: Request):
    """Ready only while the chain service answers its health check with SERVING."""
    if await request.app.state.chain.ready():
        return {"status": "ready", "chain": "serving"}
    return JSONResponse({"status": "not ready", "chain": "not serving"}, status_code=503)
