"""python -m sparrow_export: run the export worker from EXPORT_* settings."""

import asyncio

from sparrow_common.logs import setup_logging
from sparrow_common.settings import say_unread
from sparrow_export.config import Settings
from sparrow_export.server import serve


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level, service="export")
    say_unread(Settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
