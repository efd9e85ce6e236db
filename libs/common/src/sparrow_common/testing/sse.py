"""A small Server-Sent Events reader for tests."""

from __future__ import annotations

import json
from collections.abc import Iterator


def read_events(lines: Iterator[str]) -> Iterator[dict]:
    """Yield {"id", "event", "data"} for each event in an SSE line stream;
    comments (keep-alive pings) are skipped."""
    event: dict = {}
    for line in lines:
        if line == "":
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
            event = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            event[field] = event.get(field, "") + ("\n" if field == "data" and field in event else "") + value
