"""A chain's events as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import Annotated
from uuid import UUID

import grpc
from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from sparrow_common import numbers
from sparrow_common.errors import InvalidArgument
from sparrow_common.numbers import MAX_INT64
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import AppSettings, Chain
from sparrow_gateway.api.errors import unprocessable
from sparrow_gateway.api.responses import errors

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/chains", tags=["events"], route_class=BodyRoute)

# How long to wait before re-opening the watch when the chain service is away.
RETRY_S = 1.0


@router.get("/{chain_id}/events", response_class=EventSourceResponse, responses=errors(401, 404, 503))
async def chain_events(
    chain_id: UUID,
    chain: Chain,
    settings: AppSettings,
    last_event_id: Annotated[str | None, Header(description="The id of the last event you saw.")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INT64, description="Same as Last-Event-ID, for clients that can't set headers.")
    ] = None,
):
    """Every event of the chain after the one you name, then new ones live.
    Each SSE event's `id` is its sequence number: a client that reconnects with
    Last-Event-ID misses nothing and sees nothing twice."""
    if last_event_id is not None:
        try:
            after_seq = numbers.count(last_event_id, "Last-Event-ID")
        except InvalidArgument as error:
            raise unprocessable(["header", "last-event-id"], f"{error} (the number of an event).") from None
    else:
        after_seq = after or 0
    # Fail before the stream starts when the chain isn't there.
    await chain.get_chain(str(chain_id))

    async def stream():
        last = after_seq
        while True:
            try:
                # aclosing: a client that goes away ends the watch at once.
                async with aclosing(chain.watch(str(chain_id), last)) as watched:
                    async for event in watched:
                        last = event.seq
                        yield {"id": str(event.seq), "event": event.kind, "data": event.model_dump_json()}
                        if event.kind == "chain.deleted":
                            return
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    return
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    log.warning("watch of %s broke (%s); re-opening", chain_id, error.code().name)
                    await asyncio.sleep(RETRY_S)

    return EventSourceResponse(stream(), ping=settings.sse_ping_s, headers={"X-Accel-Buffering": "no"})
