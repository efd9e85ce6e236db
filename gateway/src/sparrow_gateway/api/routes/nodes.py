"""Nodes: branch, takes, commit, discard, read, and the audio itself."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from sparrow_gateway import schemas
from sparrow_common.params import MIX
from sparrow_gateway.api.audio import audio_response
from sparrow_gateway.api.auth import CurrentAccount, paid_account
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import Chain
from sparrow_gateway.api.responses import audio_file, errors
from sparrow_gateway.ranking import ranked

router = APIRouter(prefix="/api/nodes", tags=["nodes"], route_class=BodyRoute)


def _check_tier(body: schemas.BranchRequest, account) -> None:
    """A take prompted by one stem makes stems: the paid tier's, as stems are."""
    if body.prompt_source != MIX:
        paid_account(account)


@router.post(
    "/{parent_id}/branch",
    status_code=202, response_model=schemas.Node,
    responses=errors(401, 403, 404, 409, 413, 429, 503),
)
async def create_branch(parent_id: UUID, body: schemas.BranchRequest, chain: Chain, account: CurrentAccount):
    """Continue from a parent node. Answers at once with the node `pending`;
    its progress and status arrive on the chain's event stream."""
    _check_tier(body, account)
    nodes = await chain.create_takes(str(parent_id), body.to_params(), 1, body.melody)
    return nodes[0]


@router.post(
    "/{parent_id}/takes",
    status_code=202, response_model=schemas.Takes,
    responses=errors(401, 403, 404, 409, 413, 429, 503),
)
async def create_takes(parent_id: UUID, body: schemas.TakesRequest, chain: Chain, account: CurrentAccount):
    """Several takes of the same continuation, each with its own seed, made as one batch.
    With `prompt_source` a stem's name, the model hears only that stem of the path."""
    _check_tier(body, account)
    params = body.to_params()
    nodes = await chain.create_takes(str(parent_id), params, body.count, body.melody)
    return schemas.Takes(nodes=nodes)


@router.post("/{node_id}/commit", response_model=schemas.Node, responses=errors(401, 404, 409, 413, 503))
async def commit_node(node_id: UUID, chain: Chain):
    """Put a ready node on the spine; its uncommitted siblings are discarded.
    Only the spine's tip can be continued this way: 409 otherwise."""
    return await chain.commit(str(node_id))


@router.delete("/{node_id}", status_code=204, responses=errors(401, 404, 409, 503))
async def delete_node(node_id: UUID, chain: Chain) -> Response:
    """Discard a node that is neither the root nor committed, with everything under it."""
    await chain.discard(str(node_id))
    return Response(status_code=204)


@router.get("/{node_id}", response_model=schemas.Node, responses=errors(401, 404, 503))
async def get_node(node_id: UUID, chain: Chain):
    return await chain.get_node(str(node_id))


@router.get("/{node_id}/takes", response_model=schemas.RankedTakes, responses=errors(401, 404, 503))
async def ranked_takes(node_id: UUID, chain: Chain):
    """The node's takes, best seam first, each with its rank and its seam report
    (the reasons in words); takes not heard yet come after, unranked."""
    parent = await chain.get_node(str(node_id))
    whole = await chain.get_chain(parent.chain_id)
    return ranked([n for n in whole.nodes if n.parent_id == parent.id])


@router.get(
    "/{node_id}/audio",
    response_class=Response,
    responses=audio_file(("audio/*",), 401, 404, 416, 503),
)
async def node_audio(node_id: UUID, request: Request, chain: Chain):
    """The node's audio file in its stored format; honours Range so players can seek."""
    node = await chain.get_node(str(node_id))
    if node.audio is None:
        raise HTTPException(404, "Audio not available.")
    return await audio_response(
        request,
        lambda offset, length: chain.read_audio(node.id, offset, length),
        node.audio.size_bytes,
        node.audio.content_type,
        f"{node.id}.{node.audio.format}",
    )

