"""One log format for every service."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with time, level and logger name."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
