"""Chains: upload a root clip, list, read, rename, delete, the spine, undo and
redo, and the bin."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Annotated
from uuid import UUID

import grpc
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from sparrow_common.audio import CHUNK_BYTES
from sparrow_gateway import schemas
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.auth import CurrentAccount
from sparrow_gateway.api.deps import AppSettings, Chain
from sparrow_gateway.api.errors import unprocessable
from sparrow_gateway.api.responses import errors

router = APIRouter(prefix="/api/chains", tags=["chains"], route_class=BodyRoute)


# The two bodies POST /api/chains takes, as its documentation says them.
_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string", "format": "binary",
                            "description": "The root clip: WAV, MP3, FLAC, OGG, M4A or AIFF.",
                        },
                        "title": {"type": "string", "maxLength": 200, "description": "Defaults to the file's name."},
                    },
                }
            },
            "application/json": {"schema": schemas.ChainFromWords.model_json_schema()},
        },
    }
}

# The 422 FastAPI documents for a route whose parameters it reads itself (it
# reads this one's body in the route).
_UNPROCESSABLE = {
    422: {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
    }
}


@router.post(
    "", status_code=201, response_model=schemas.ChainCreated,
    responses={**errors(401, 413, 415, 429, 503, 507), **_UNPROCESSABLE}, openapi_extra=_CREATE_BODY,
)
async def create_chain(request: Request, chain: Chain, settings: AppSettings, account: CurrentAccount):
    """Start a chain from an uploaded clip (multipart: `file`, `title`), or from
    words (JSON: the knobs with a `prompt`, `title`, `count`): the root is then
    the beginning, a part with no audio, and `count` takes are made from the
    words alone, pending in `takes`; committing one starts the spine. An
    uploaded file is kept as received; its format is read from its content, not
    its name. Undecodable audio is 415; storage that is full is 507, and storage
    that can't be written 503."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        return await _from_words(await _body(request, schemas.ChainFromWords), chain, account)
    form = await request.form()
    file, title = form.get("file"), form.get("title", "")
    if not isinstance(file, StarletteUpload):
        raise unprocessable(
            ["body", "file"], "Field required: the clip as a multipart file, or a JSON body to start from words."
        )
    if not isinstance(title, str) or len(title) > 200:
        raise unprocessable(["body", "title"], "The title is text of at most 200 characters.")
    if file.size is not None and file.size > settings.max_upload_bytes:
        raise HTTPException(413, f"The upload is larger than the limit of {settings.max_upload_bytes // (1024 * 1024)} MB.")

    async def chunks():
        while data := await file.read(CHUNK_BYTES):
            yield data

    try:
        return await chain.create_chain(title, file.filename or "", chunks())
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise HTTPException(415, f"Can't use this file: {error.details()}.") from None
        raise


async def _body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The JSON body as `model`; every way it can be wrong is a 422 saying so."""
    try:
        data = await request.json()
    except json.JSONDecodeError as error:
        raise unprocessable(["body", str(error.pos)], f"JSON decode error: {error.msg}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


async def _from_words(body: schemas.ChainFromWords, chain, account) -> schemas.ChainCreated:
    """A chain whose root is the beginning, and its first takes from the words;
    when the takes can't be asked (a limit reached), the chain goes too."""
    title = body.title.strip() or " ".join(body.prompt.split()[:8])[:200]
    created = await chain.create_chain(title, "", None)
    try:
        takes = await chain.create_takes(created.root.id, body.knobs(), body.count)
    except BaseException:
        with suppress(Exception):
            await chain.delete_chain(created.id)
        raise
    return created.model_copy(update={"takes": takes, "nodes": [created.root, *takes]})


@router.get("", response_model=list[schemas.Chain], responses=errors(401, 503))
async def list_chains(
    chain: Chain,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=32)] = "",
):
    """Your chains, newest first. When there are more, the X-Next-Page-Token
    header carries the token for the next page."""
    chains, next_page_token = await chain.list_chains(limit, page_token)
    if next_page_token:
        response.headers["X-Next-Page-Token"] = next_page_token
    return chains


@router.get("/{chain_id}", response_model=schemas.ChainWithNodes, responses=errors(401, 404, 503))
async def get_chain(chain_id: UUID, chain: Chain):
    """A chain with every node in it, oldest first."""
    return await chain.get_chain(str(chain_id))


@router.delete("/{chain_id}", status_code=204, responses=errors(401, 404, 503))
async def delete_chain(chain_id: UUID, chain: Chain) -> Response:
    """Delete a chain with all its nodes and audio."""
    await chain.delete_chain(str(chain_id))
    return Response(status_code=204)


@router.get("/{chain_id}/spine", response_model=list[schemas.Node], responses=errors(401, 404, 503))
async def get_spine(chain_id: UUID, chain: Chain):
    """The committed path from the root, root first."""
    return await chain.spine(str(chain_id))


@router.patch("/{chain_id}", response_model=schemas.Chain, responses=errors(401, 404, 413, 503))
async def rename_chain(chain_id: UUID, body: schemas.RenameRequest, chain: Chain):
    """Give the chain a new title (1 to 200 characters once trimmed)."""
    return await chain.rename(str(chain_id), body.title)


@router.post("/{chain_id}/undo", response_model=schemas.Undone, responses=errors(401, 404, 409, 413, 503))
async def undo(chain_id: UUID, chain: Chain):
    """Undo the chain's latest move (a commit, uncommit, discard or restore).
    The moves are kept with the chain: undo works after a reload or a restart.
    409 when there is nothing to undo, or the move can't be undone any more."""
    return await chain.undo(str(chain_id))


@router.post("/{chain_id}/redo", response_model=schemas.Undone, responses=errors(401, 404, 409, 413, 503))
async def redo(chain_id: UUID, chain: Chain):
    """Do again the move undone last; a new move forgets what was undone."""
    return await chain.redo(str(chain_id))


@router.get("/{chain_id}/bin", response_model=schemas.Bin, responses=errors(401, 404, 503))
async def get_bin(chain_id: UUID, chain: Chain):
    """What was discarded, newest first: restorable until the bin is emptied
    (on demand, or CHAIN_BIN_TTL_S after, a week by default)."""
    return await chain.bin(str(chain_id))


@router.delete("/{chain_id}/bin", response_model=schemas.BinEmptied, responses=errors(401, 404, 503))
async def empty_bin(chain_id: UUID, chain: Chain):
    """Delete what is in the bin, and its audio, for good: how many nodes went,
    and the chain's `history` (the moves on them can't be undone any more)."""
    return await chain.empty_bin(str(chain_id))
