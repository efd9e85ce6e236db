"""Presets: a musician's named knobs, kept with their account, to ask for takes
with again on any chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from sparrow_gateway import schemas
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import Chain
from sparrow_gateway.api.responses import errors

router = APIRouter(prefix="/api/presets", tags=["presets"], route_class=BodyRoute)

Name = Annotated[str, Path(min_length=1, max_length=60, description="The preset's name (spaces collapsed).")]


@router.get("", response_model=list[schemas.Preset], responses=errors(401, 503))
async def list_presets(chain: Chain):
    """Your presets, by name."""
    return await chain.presets()


@router.put("/{name}", response_model=schemas.Preset, responses=errors(401, 409, 413, 503))
async def save_preset(name: Name, body: schemas.PresetBody, chain: Chain):
    """Keep these knobs under `name`; the same name again changes it. The seed
    is not kept (a preset makes new takes). 409 past 50 presets."""
    return await chain.save_preset(name, body.knobs())


@router.delete("/{name}", status_code=204, responses=errors(401, 404, 503))
async def delete_preset(name: Name, chain: Chain) -> Response:
    """Forget the preset `name`; 404 when you have none of that name."""
    await chain.delete_preset(name)
    return Response(status_code=204)
