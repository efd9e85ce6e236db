"""One request id per user action, from the gateway through the chain service to
the worker that does the work: in gRPC metadata between services, in a context
variable within one, and in every log line (see `logs`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from contextvars import ContextVar, Token

METADATA_KEY = "x-request-id"
# What a caller may hand us; anything else is replaced, so logs stay clean.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str] = ContextVar("request_id", default="")


def new() -> str:
    return uuid.uuid4().hex


def acceptable(value: str | None) -> str:
    """`value` when it is a sensible id, else a fresh one."""
    return value if value and _ACCEPTABLE.fullmatch(value) else new()


def current() -> str:
    """The id of the request being handled here, or "" outside one."""
    return _current.get()


def use(request_id: str) -> Token:
    return _current.set(request_id)


def from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The caller's id from gRPC invocation metadata, or "" when it sent none."""
    for key, value in metadata or ():
        if key == METADATA_KEY and isinstance(value, str):
            return acceptable(value)
    return ""


def metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying the current id on to the next service."""
    value = current()
    return ((METADATA_KEY, value),) if value else ()
