"""Ids of chains and nodes: UUIDs in their canonical text form."""

from __future__ import annotations

import uuid

from sparrow_common.errors import InvalidArgument


def new_id() -> str:
    """A fresh random id."""
    return str(uuid.uuid4())


def parse_id(value: str, what: str = "id") -> str:
    """Return `value` in canonical form, or raise InvalidArgument naming `what`."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"{what} {value!r} is not a valid id (expected a UUID)") from None
