"""The error replies the routes document in OpenAPI, with one schema:
`{"detail": "..."}` in words (422s from validation carry FastAPI's list)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Error(BaseModel):
    detail: str = Field(description="What went wrong, in words a musician can act on.")


DESCRIPTIONS = {
    401: "No API key, or one Sparrow doesn't know.",
    403: "The key's tier can't do this (stems need the paid tier).",
    404: "No such chain, node or stem, or it is another user's.",
    409: "The node is in the wrong state for this (not ready, off the spine's tip, committed).",
    413: "The upload is larger than the limit.",
    415: "The file can't be used as audio; the reason says why.",
    416: "The range starts past the end of the file.",
    429: "Past the tier's limits on takes; Retry-After says when to ask again.",
    503: "The chain service is away, or can't store audio right now; Retry-After says when to try again.",
    507: "The server's storage for audio is full; Retry-After says when to try again.",
}


def errors(*codes: int) -> dict[int | str, dict]:
    """`responses=` for a route: these statuses, each with the Error schema."""
    return {code: {"model": Error, "description": DESCRIPTIONS[code]} for code in codes}


def audio_file(media_types: tuple[str, ...], *codes: int) -> dict[int | str, dict]:
    """`responses=` for a route that answers with an audio file and honours
    Range: the file (200), a byte range of it (206), and these errors."""
    return {
        200: {"content": {media_type: {} for media_type in media_types}},
        206: {"description": "A byte range of the file."},
        **errors(*codes),
    }
