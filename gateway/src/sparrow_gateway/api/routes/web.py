"""The editor: a page the gateway serves itself, with its scripts and styles.

Everything it loads comes from here (wavesurfer.js is copied from npm into
web/vendor by `make web`), so it works on a machine with no internet."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parents[2] / "web"
VENDOR = WEB / "vendor" / "wavesurfer.esm.js"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def editor():
    if not VENDOR.exists():
        return PlainTextResponse(
            f"The editor's scripts are not built: {VENDOR} is missing. Run `make web` (or `make run`).",
            status_code=503,
        )
    return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})


def assets() -> StaticFiles:
    """/app/...: the page's scripts, styles and vendored libraries."""
    if not VENDOR.exists():
        log.warning("the editor's scripts are not built (%s is missing): run `make web`", VENDOR)
    return StaticFiles(directory=WEB)
