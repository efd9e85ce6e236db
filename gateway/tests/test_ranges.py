"""Byte ranges as browsers send them when an <audio> element seeks."""

import pytest
from fastapi import HTTPException

from sparrow_gateway.ranges import parse_range


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("bytes=0-", (0, 999)),
        ("bytes=100-199", (100, 199)),
        ("bytes=900-5000", (900, 999)),  # clipped to the end
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=0-0", (0, 0)),
        ("items=0-5", None),  # not bytes: whole file
        ("bytes=0-5,10-20", None),  # several ranges: whole file
    ],
)
def test_ranges(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0", "bytes=500-100"])
def test_unsatisfiable_ranges_are_416_with_the_size(header):
    with pytest.raises(HTTPException) as caught:
        parse_range(header, 1000)
    assert caught.value.status_code == 416
    assert caught.value.headers["Content-Range"] == "bytes */1000"
