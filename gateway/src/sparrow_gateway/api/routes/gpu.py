"""How busy the GPU workers are."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from sparrow_gateway import schemas
from sparrow_gateway.api.auth import CurrentAccount
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.responses import errors

router = APIRouter(prefix="/api", tags=["gpu"], route_class=BodyRoute)


@router.get("/gpu", response_model=schemas.GpuCapacity, responses=errors(401))
async def gpu(request: Request, account: CurrentAccount):
    """Each GPU worker's slots, busy and queued calls, model and device, or the
    reason it can't take work (model not loaded, unreachable)."""
    capacity = request.app.state.capacity
    generation, stems = await asyncio.gather(capacity.generation(), capacity.stems())
    return schemas.GpuCapacity(
        generation=[schemas.WorkerCapacity(**w) for w in generation],
        stems=[schemas.WorkerCapacity(**w) for w in stems],
    )
