"""python -m sparrow_analysis: run the analysis worker from ANALYSIS_* settings."""

import asyncio

from sparrow_common.logs import setup_logging
from sparrow_common.settings import say_unread

from sparrow_analysis.config import Settings
from sparrow_analysis.server import serve


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level, service="analysis")
    say_unread(Settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
