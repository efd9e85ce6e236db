"""One log format for every service: a JSON object per line, carrying the
request id (see `request_id`), or plain text for a person at a terminal."""

from __future__ import annotations

import logging
import os

from pythonjsonlogger.json import JsonFormatter

from sparrow_common import request_id

# json (the default, for log collectors) or text.
FORMAT_ENV = "SPARROW_LOG_FORMAT"


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.current()
        # For text lines: " [id]" only when a request is being served.
        record.request_tag = f" [{record.request_id}]" if record.request_id else ""
        return True


def setup_logging(level: str = "INFO", service: str = "", fmt: str | None = None) -> None:
    """Log to stderr: JSON lines with time, level, logger, service, request_id and
    message; `fmt="text"` (or SPARROW_LOG_FORMAT=text) for a readable line."""
    fmt = (fmt or os.environ.get(FORMAT_ENV, "json")).lower()
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    if fmt == "text":
        handler.setFormatter(
            # Several services share one terminal under `make run`: each line says whose it is.
            logging.Formatter(
                f"%(asctime)s {service or '-'} %(levelname)s %(name)s%(request_tag)s: %(message)s"
            )
        )
    else:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service} if service else None,
                timestamp=False,
            )
        )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
