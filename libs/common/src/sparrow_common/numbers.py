"""Whole numbers read from text a client wrote (a header, a query, a page
token), refused with a message naming the field before they reach a database
or protobuf.

`int()` takes far more than these fields can hold: digits that are not ASCII
(`int("٣") == 3`), a sign, spaces, underscores, and any length up to Python's
4,300-digit limit, past which it raises. Here a count is ASCII digits only, and
at most a signed 64-bit integer (what SQLite, PostgreSQL's bigint and protobuf's
int64 hold) or a smaller `maximum`.
"""

from __future__ import annotations

import re

from sparrow_common.errors import InvalidArgument

MAX_INT64 = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")


def is_digits(text: str) -> bool:
    """Whether `text` is one or more ASCII digits, nothing else."""
    return _DIGITS.fullmatch(text) is not None


def count(text: str, field: str, maximum: int = MAX_INT64) -> int:
    """`text` as a whole number from 0 to `maximum`, or InvalidArgument naming `field`."""
    text = text.strip()
    if not is_digits(text):
        raise InvalidArgument(f"{field} must be a whole number written with the digits 0-9")
    # Compare lengths first: int() of a long enough string raises.
    if len(text.lstrip("0")) > len(str(maximum)) or int(text) > maximum:
        raise InvalidArgument(f"{field} must be at most {maximum}")
    return int(text)
