"""Serving a stored audio file the chain service streams, with Range support."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from fastapi import Request
from fastapi.responses import StreamingResponse

from sparrow_gateway.chain_client import Download
from sparrow_gateway.ranges import parse_range

log = logging.getLogger(__name__)


async def audio_response(
    request: Request,
    open_stream: Callable[[int, int], Awaitable[Download]],
    size: int,
    content_type: str,
    filename: str,
) -> StreamingResponse:
    """Answer 200 with the whole file or 206 with the asked range.

    The stream is opened, and its first chunk read, before the response
    starts, so a file that is gone (or can't be read) is a clean HTTP error in
    words, not headers and then a cut body."""
    byte_range = parse_range(request.headers.get("range"), size)
    first, last = byte_range if byte_range else (0, size - 1)
    download = await open_stream(first, last - first + 1)
    opening = await anext(download.chunks, None)

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(last - first + 1),
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, max-age=3600",
    }
    if byte_range:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        whole(download.chunks, last - first + 1, opening),
        status_code=206 if byte_range else 200, media_type=content_type, headers=headers,
    )


async def whole(chunks, length: int, first: bytes | None = None) -> AsyncIterator[bytes]:
    """`first`, then the rest of a download of `length` bytes; the call ends with the body.

    A call that fails once all `length` bytes are sent (the chain service
    killed between the file's last chunk and its status, as tried under load)
    leaves the answer whole: raising then made the server close the connection,
    and the client's next request on it got no answer at all."""
    sent = 0
    try:
        if first is not None:
            sent += len(first)
            yield first
        async for chunk in chunks:
            sent += len(chunk)
            yield chunk
    except grpc.aio.AioRpcError as error:
        if sent < length:
            raise  # the body is cut: closing the connection is all that is left to say so
        log.warning("the file was sent whole, but its stream then ended in %s", error.code().name)
    finally:
        await chunks.aclose()
