"""gRPC status codes from the services to HTTP statuses, 422s that can quote any
input, and the upload limit."""

from __future__ import annotations

import logging
import math
import typing

import grpc
from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

HTTP_STATUS = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 413,
    # The chain service's refusal of takes past a tier's limit.
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}
# Messages of these codes were written for users; others are transport noise.
_READABLE = {
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


# Faults a service names in its "reason" trailer, where the status code alone
# can't tell them apart (a full disk and a tier's limit are both
# RESOURCE_EXHAUSTED): their HTTP status. Their words are meant for users.
REASON_STATUS = {"storage-full": 507, "storage-unavailable": 503}


def http_status(error: grpc.aio.AioRpcError) -> int:
    return HTTP_STATUS.get(error.code(), 502)


async def grpc_error_handler(request: Request, error: grpc.aio.AioRpcError) -> JSONResponse:
    if (named := _named_fault(error)) is not None:
        return named
    status = http_status(error)
    trailers = dict(error.trailing_metadata() or ())
    # A service that is up but can't serve (its database away) says why in
    # words and when to ask again; a channel that can't reach it says neither.
    said_unavailable = error.code() == grpc.StatusCode.UNAVAILABLE and "retry-after" in trailers
    if error.code() in _READABLE:
        detail = error.details()
    elif said_unavailable:
        detail = error.details()[:1].upper() + error.details()[1:] + "."
    elif error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        detail = "The chain service is not answering right now; try again shortly."
    else:
        detail = "The chain service failed; its log has the details."
    if status >= 500 and not said_unavailable:
        # The service logged its own outage once; a line a request would drown it.
        log.warning("%s %s -> %s: %s", request.method, request.url.path, error.code().name, error.details())
    headers = {"Retry-After": trailers.get("retry-after", "5")} if status == 503 else None
    if status == 429:
        headers = {"Retry-After": trailers.get("retry-after", "30")}
        detail = detail[:1].upper() + detail[1:] + "."
    if status == 422:
        return JSONResponse({"detail": [_as_validation_error(request, detail)]}, status_code=422)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _named_fault(error: grpc.aio.AioRpcError) -> JSONResponse | None:
    """The answer to a fault the service named (REASON_STATUS): its status, its
    words as a sentence, and Retry-After as the service said; None for others."""
    trailers = dict(error.trailing_metadata() or ())
    status = REASON_STATUS.get(trailers.get("reason", ""))
    if status is None:
        return None
    words = error.details() or ""
    return JSONResponse(
        {"detail": words[:1].upper() + words[1:] + "."},
        status_code=status,
        headers={"Retry-After": trailers.get("retry-after", "30")},
    )


def _as_validation_error(request: Request, message: str) -> dict:
    """A 422 from a service in the shape of FastAPI's own (the one the API
    documents): its `loc` names the query or path parameter, or the field of
    the route's body, that the message starts with; else the body."""
    first = message.split(" ", 1)[0]
    if first in request.query_params:
        loc = ["query", first]
    elif first in request.path_params:
        loc = ["path", first]
    elif first in _body_fields(request):
        loc = ["body", first]
    else:
        loc = ["body"]
    return _validation_error(loc, message)


def _body_fields(request: Request) -> set[str]:
    """The field names of the body model of the route that took the request
    (FastAPI puts the route in the scope); none for a route without one."""
    body = getattr(request.scope.get("route"), "body_field", None)
    if body is None:
        return set()
    annotation = body.field_info.annotation
    models = typing.get_args(annotation) or (annotation,)  # `Model | None` for an optional body
    return {name for model in models for name in getattr(model, "model_fields", {})}


def _validation_error(loc: list[str], message: str) -> dict:
    return {"type": "value_error", "loc": loc, "msg": message, "input": None}


def unprocessable(loc: list[str], message: str) -> HTTPException:
    """A 422 the gateway raises itself, in the documented shape: `loc` as
    FastAPI writes it (["header", "last-event-id"], ["body"], ...). An
    HTTPException, so that FastAPI passes it through while it reads a body."""
    return HTTPException(422, [_validation_error(loc, message)])


async def validation_error_handler(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 with the validation list, able to quote any input: JSON
    has no infinity or NaN, so a body holding 1e400 made FastAPI's own handler
    fail with 500 while it quoted the input back."""
    return JSONResponse({"detail": _finite(jsonable_encoder(error.errors()))}, status_code=422)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan"
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


class UploadLimit:
    """Refuses request bodies past the upload limit with 413, from the
    Content-Length header when there is one, and while reading otherwise, before
    the whole body is spooled to disk."""

    # Room for the multipart envelope and the form's other fields.
    SLACK = 1024 * 1024

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> HTTPException:
        return HTTPException(413, f"The upload is larger than the limit of {self.max_bytes // (1024 * 1024)} MB.")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        limit = self.max_bytes + self.SLACK
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            response = JSONResponse({"detail": self._refusal().detail}, status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._refusal()
            return message

        await self.app(scope, limited_receive, send)
