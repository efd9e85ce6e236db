"""Request bodies read so that every malformed one is a 422 saying what is
wrong, as truncated JSON already is, never a bare 400 or a 500.

Starlette's `Request.json()` hands the bytes to `json.loads`, which raises
UnicodeDecodeError on bytes that are not UTF-8 and ValueError on an integer
past Python's 4,300-digit limit; FastAPI answers both with a bare 400 "There
was an error parsing the body". Here bytes that are not UTF-8 are a JSON decode
error (FastAPI's 422 `json_invalid`, with the position), and an integer too long
for Python becomes infinity, which the field's own validation then refuses with
a 422 naming the field ("Input should be a finite number").

A multipart form python-multipart can't read (a part's header past its 4 KB
limit: a file name of thousands of characters) is a 422 with its reason,
where Starlette answered 400 "Invalid multipart data.".

Every API router uses `BodyRoute` as its route class.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from sparrow_gateway.api.errors import unprocessable

# int() refuses strings longer than this (Python's int_max_str_digits).
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300


def _integer(text: str) -> int | float:
    digits = len(text.lstrip("-"))
    if digits > _MAX_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def loads(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError(
            f"the body is not UTF-8 ({error.reason})", body.decode("utf-8", "replace"), error.start
        ) from None
    return json.loads(text, parse_int=_integer)


class BodyRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json

    async def _get_form(self, **limits):
        try:
            return await super()._get_form(**limits)
        except StarletteHTTPException as error:
            unreadable = error.__context__
            if not isinstance(unreadable, MultiPartException):
                raise
            reason = unreadable.__cause__ or unreadable.message
            raise unprocessable(
                ["body"], f"The upload's form can't be read: {reason} (a part's headers, the file's name among "
                "them, may take up to 4 KB)."
            ) from None


class BodyRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request):
            return await handler(BodyRequest(request.scope, request.receive))

        return route
