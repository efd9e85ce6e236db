"""Nodes: branch, takes, commit, uncommit, discard, restore, fork, the grid,
read, the takes ranked, and the audio itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from sparrow_gateway import schemas
from sparrow_common.params import MIX, Knobs
from sparrow_gateway.api.audio import audio_response
from sparrow_gateway.api.auth import CurrentAccount, paid_account
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import Chain
from sparrow_gateway.api.responses import audio_file, errors
from sparrow_gateway.ranking import ranked

router = APIRouter(prefix="/api/nodes", tags=["nodes"], route_class=BodyRoute)


@dataclass(frozen=True)
class Asked:
    """What the takes are made with: the body's knobs and recipe, or those of
    the take they are more like."""

    knobs: Knobs
    align: str
    prompt_source: str
    melody: schemas.Melody | None
    from_s: float | None
    until_s: float | None = None
    intro: bool = False
    until_node_id: str | None = None


async def _asked(parent_id: UUID, body: schemas.BranchRequest, chain, account) -> Asked:
    if body.like is None:
        asked = Asked(
            body.knobs(), body.align, body.prompt_source, body.melody, body.from_s, body.until_s, body.place == "before",
            str(body.until_node_id) if body.until_node_id else None,
        )
    else:
        like = await chain.get_node(str(body.like))
        if like.parent_id != str(parent_id) or like.params is None:
            raise HTTPException(422, f"`like` must be a take of node {parent_id}; node {body.like} is not one.")
        knobs = like.params.knobs()
        if like.intro:  # an intro asked again: its length is the knobs', its start the clip's
            asked = Asked(replace(knobs, seed=None, duration_s=like.until_s), like.params.align, like.params.prompt_source,
                          like.melody, None, None, True)
        else:
            asked = Asked(
                replace(knobs, seed=None), like.params.align, like.params.prompt_source, like.melody, like.from_s,
                like.until_s, False, like.until_node_id,
            )
    # A take prompted by one stem makes stems: the paid tier's, as stems are.
    if asked.prompt_source != MIX:
        paid_account(account)
    return asked


async def _create(chain, parent_id: UUID, asked: Asked, count: int) -> list[schemas.Node]:
    return await chain.create_takes(
        str(parent_id), asked.knobs, count, align=asked.align, prompt_source=asked.prompt_source,
        melody=asked.melody, from_s=asked.from_s, until_s=asked.until_s, intro=asked.intro,
        until_node_id=asked.until_node_id,
    )


@router.post(
    "/{parent_id}/branch",
    status_code=202, response_model=schemas.Node,
    responses=errors(401, 403, 404, 409, 413, 429, 503),
)
async def create_branch(parent_id: UUID, body: schemas.BranchRequest, chain: Chain, account: CurrentAccount):
    """Continue from a parent node. Answers at once with the node `pending`;
    its progress and status arrive on the chain's event stream."""
    (node,) = await _create(chain, parent_id, await _asked(parent_id, body, chain, account), 1)
    return node


@router.post(
    "/{parent_id}/takes",
    status_code=202, response_model=schemas.Takes,
    responses=errors(401, 403, 404, 409, 413, 429, 503),
)
async def create_takes(parent_id: UUID, body: schemas.TakesRequest, chain: Chain, account: CurrentAccount):
    """Several takes of the same continuation, each with its own seed, made as one batch.
    With `prompt_source` a stem's name, the model hears only that stem of the path;
    with `from_s`, the path up to that second of the parent; with `from_s` and
    `until_s`, takes that replace that stretch of the parent (each comes back
    into it near `until_s`: its `analysis.rejoin`); with `place: "before"` of
    the root, intros that lead into the clip; with `like`, the knobs of that
    take (more like this)."""
    asked = await _asked(parent_id, body, chain, account)
    return schemas.Takes(nodes=await _create(chain, parent_id, asked, body.count))


@router.post("/{node_id}/commit", response_model=schemas.Moved, responses=errors(401, 404, 409, 413, 503))
async def commit_node(node_id: UUID, chain: Chain):
    """Put a ready node on the spine; its uncommitted siblings are discarded.
    Only the spine's tip can be continued this way: 409 otherwise. A take that
    replaces a stretch of a part of the spine (anywhere on it) goes in its
    place: the part plays to `from_s`, the take to where the part comes back,
    then the rest of the part (a new part sharing its audio from its in point
    `in_s`) and what followed. The node, with the chain's `history` (what undo
    and redo do next)."""
    return await chain.commit(str(node_id))


@router.delete("/{node_id}", response_model=schemas.Discarded, responses=errors(401, 404, 409, 503))
async def delete_node(node_id: UUID, chain: Chain):
    """Discard a node that is neither the root nor committed, with everything
    under it: to the chain's bin, restorable until the bin is emptied. The
    chain's `history` (the discard is its latest move)."""
    return await chain.discard(str(node_id))


@router.post("/{node_id}/uncommit", response_model=schemas.Moved, responses=errors(401, 404, 409, 413, 503))
async def uncommit_node(node_id: UUID, chain: Chain):
    """Take the spine's tip off the spine: it is a take again, its parent plays
    to its end, and the takes its commit sent to the bin come back. 409 for any
    node but the tip. The node, with the chain's `history`."""
    return await chain.uncommit(str(node_id))


@router.post("/{node_id}/restore", response_model=schemas.Moved, responses=errors(401, 404, 409, 413, 503))
async def restore_node(node_id: UUID, chain: Chain):
    """Bring a node back from the bin, with what went there with it. 409 when its
    parent is in the bin (restore that first) or gone. The node, with the
    chain's `history`."""
    return await chain.restore(str(node_id))


@router.post("/{node_id}/fork", status_code=201, response_model=schemas.ChainWithNodes,
             responses=errors(401, 404, 409, 413, 503))
async def fork_chain(node_id: UUID, chain: Chain, body: schemas.ForkRequest | None = None):
    """A new chain of yours whose spine is this chain's spine up to this node
    (a part of the spine, else 409), sharing its audio: nothing is copied."""
    return await chain.fork(str(node_id), body.title if body else None)


@router.put("/{node_id}/grid", response_model=schemas.Regridded, responses=errors(401, 404, 409, 413, 503))
async def set_grid(node_id: UUID, body: schemas.GridRequest, chain: Chain):
    """The musician's word on a part's grid: tempo, time signature, bar one and
    key, over what Sparrow heard. The body is the whole correction: a field
    absent or null goes back to as heard. Everything that uses the grid
    (`align: "bars"`, the seam reports, whose takes are heard again, the export's
    markers) uses the corrected one. A move: undone and redone like the others.
    409 for a node without audio or in the bin; 422 for a value out of range
    (bar one past the part's end too)."""
    return await chain.set_grid(str(node_id), body)


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

