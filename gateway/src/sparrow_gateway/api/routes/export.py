"""Export: the spine as one file, downloaded."""

from __future__ import annotations

import re
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from sparrow_gateway import schemas
from sparrow_gateway.api.audio import whole
from sparrow_gateway.api.auth import CurrentAccount, paid_account
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import Chain
from sparrow_gateway.api.responses import errors

router = APIRouter(prefix="/api/chains", tags=["export"], route_class=BodyRoute)


def _filename(title: str, fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "", title).strip().replace(" ", "-") or "sparrow"
    return f"{stem[:80]}.{fmt}"


@router.post(
    "/{chain_id}/export",
    response_class=Response,
    responses={
        200: {
            "content": {"audio/wav": {}, "audio/mpeg": {}, "audio/flac": {}, "application/zip": {}},
            "description": "The file (a zip with `stems`).",
        },
        **errors(401, 403, 404, 409, 413, 503),
    },
)
async def export_chain(chain_id: UUID, body: schemas.ExportRequest, chain: Chain, account: CurrentAccount):
    """Render the spine, root first, as one WAV, MP3 or FLAC file: every clip at the
    root's sample rate and channels, joined with an equal-power crossfade, and
    loudness-matched to the root when asked. With `stems`, a zip of the mix and
    each stem joined alike (parts without stems are split first, which can take
    a while). With `loop`, a stretch of the spine alone, on whole bars where
    the parts have a grid, made to repeat with no click (a WAV says so in its
    `smpl` chunk). With `without`, one file of every part's other stems (paid
    tier: the parts without stems are split first). Answers as a download; 409 names a part whose audio is missing
    from storage, before any of the file is sent."""
    if body.stems or body.without:  # both need the parts' stems
        paid_account(account)
    title = (await chain.get_chain(str(chain_id))).title
    download = await chain.export(str(chain_id), body)
    extension = "zip" if body.stems else body.format
    if body.without:
        title = f"{title} without {' and '.join(body.without)}"
    if body.loop is not None:
        title = f"{title} loop"
    return StreamingResponse(
        whole(download.chunks, download.size_bytes),
        media_type=download.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(title, extension)}"',
            "Content-Length": str(download.size_bytes),
        },
    )
