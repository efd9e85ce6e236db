"""Stems of a node, by one of the stems models offered: htdemucs writes drums,
bass, other and vocals; htdemucs_6s adds guitar and piano. Paid tier only."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from sparrow_common.params import STEM_NAME
from sparrow_gateway import schemas
from sparrow_gateway.api.audio import audio_response
from sparrow_gateway.api.auth import PaidAccount
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import Chain
from sparrow_gateway.api.responses import audio_file, errors

router = APIRouter(prefix="/api/nodes", tags=["stems"], route_class=BodyRoute)

StemName = Annotated[str, Path(pattern=f"^{STEM_NAME.pattern}$", description="drums, bass, other, vocals, guitar, piano...")]
Model = Annotated[
    str, Query(max_length=64, description="One of the stems models offered (`models` in /api/gpu); empty for the first.")
]


@router.post(
    "/{node_id}/stems",
    status_code=202, response_model=schemas.StemSet,
    responses=errors(401, 403, 404, 409, 413, 503),
)
async def separate_stems(
    node_id: UUID, chain: Chain, account: PaidAccount, body: schemas.StemsRequest | None = None
):
    """Split the node into the stems of the model asked for (the first offered
    when the body or its `model` is absent). Answers at once; progress arrives
    on the chain's event stream (`stems.updated`). Stems are cached by the
    audio's content and the model: asking again answers with the cached set."""
    return await chain.separate_stems(str(node_id), (body.model if body else None) or "")


@router.get("/{node_id}/stems", response_model=schemas.StemSet, responses=errors(401, 403, 404, 409, 503))
async def get_stems(node_id: UUID, chain: Chain, account: PaidAccount, model: Model = ""):
    """The node's stems by `model` and their state (`none` until asked)."""
    return await chain.get_stems(str(node_id), model)


@router.get(
    "/{node_id}/stems/{stem}/audio",
    response_class=Response,
    responses=audio_file(("audio/wav",), 401, 403, 404, 409, 416, 503),
)
async def stem_audio(
    node_id: UUID, stem: StemName, request: Request, chain: Chain, account: PaidAccount, model: Model = ""
):
    """One stem as WAV; honours Range."""
    stems = await chain.get_stems(str(node_id), model)
    found = next((s for s in stems.stems if s.name == stem), None)
    if found is None:
        if stems.status == "ready":
            raise HTTPException(404, f"The {stems.model} stems have no {stem}: they are {', '.join(s.name for s in stems.stems)}.")
        raise HTTPException(404, "These stems are not ready yet.")
    return await audio_response(
        request,
        lambda offset, length: chain.read_stem(str(node_id), stem, model, offset, length),
        found.audio.size_bytes,
        found.audio.content_type,
        f"{node_id}-{stem}.wav",
    )
