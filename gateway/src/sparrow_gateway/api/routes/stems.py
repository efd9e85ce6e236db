"""Stems of a node: drums, bass, other, vocals. Paid tier only."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from sparrow_gateway import schemas
from sparrow_gateway.api.audio import audio_response
from sparrow_gateway.api.auth import PaidAccount
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import Chain
from sparrow_gateway.api.responses import audio_file, errors

router = APIRouter(prefix="/api/nodes", tags=["stems"], route_class=BodyRoute)

StemName = Literal["drums", "bass", "other", "vocals"]


@router.post(
    "/{node_id}/stems",
    status_code=202, response_model=schemas.StemSet,
    responses=errors(401, 403, 404, 409, 413, 503),
)
async def separate_stems(node_id: UUID, chain: Chain, account: PaidAccount):
    """Split the node into four stems. Answers at once; progress arrives on the
    chain's event stream (`stems.updated`). Stems are cached by the audio's
    content: asking again answers with the cached set."""
    return await chain.separate_stems(str(node_id))


@router.get("/{node_id}/stems", response_model=schemas.StemSet, responses=errors(401, 403, 404, 409, 503))
async def get_stems(node_id: UUID, chain: Chain, account: PaidAccount):
    """The node's stems and their state (`none` until asked)."""
    return await chain.get_stems(str(node_id))


@router.get(
    "/{node_id}/stems/{stem}/audio",
    response_class=Response,
    responses=audio_file(("audio/wav",), 401, 403, 404, 409, 416, 503),
)
async def stem_audio(node_id: UUID, stem: StemName, request: Request, chain: Chain, account: PaidAccount):
    """One stem as WAV; honours Range."""
    stems = await chain.get_stems(str(node_id))
    found = next((s for s in stems.stems if s.name == stem), None)
    if found is None:
        raise HTTPException(404, "These stems are not ready yet.")
    return await audio_response(
        request,
        lambda offset, length: chain.read_stem(str(node_id), stem, offset, length),
        found.audio.size_bytes,
        found.audio.content_type,
        f"{node_id}-{stem}.wav",
    )
