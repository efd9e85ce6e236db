"""HTTP byte ranges (RFC 9110 section 14), enough for <audio> to seek."""

from __future__ import annotations

import re

from fastapi import HTTPException

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte a Range header asks for, or None for the whole file.

    Several ranges or a header we can't read are answered with the whole file,
    as the RFC allows; a range past the end is 416."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        suffix = _position(last, size)
        if suffix == 0:
            raise _unsatisfiable(size)
        return max(size - suffix, 0), size - 1
    start = _position(first, size)
    asked_end = _position(last, size) if last else size - 1
    if start >= size or asked_end < start:
        raise _unsatisfiable(size)
    return start, min(asked_end, size - 1)


def _position(digits: str, size: int) -> int:
    """A byte position as written; any number longer than the file's size is
    written is past the end, so it is never handed to int() whole (which
    refuses more than 4,300 digits)."""
    digits = digits.lstrip("0") or "0"
    return size + 1 if len(digits) > len(str(size)) else int(digits)


def _unsatisfiable(size: int) -> HTTPException:
    return HTTPException(
        416, "The requested range is outside the file.", headers={"Content-Range": f"bytes */{size}"}
    )
