"""python -m sparrow_stems: run the stems worker from STEMS_* settings."""

import asyncio

from sparrow_common.heap import one_arena
from sparrow_common.logs import setup_logging
from sparrow_common.settings import say_unread

from sparrow_stems.config import Settings
from sparrow_stems.server import serve


def main() -> None:
    one_arena()  # before any thread: the model's thread shares the main heap
    settings = Settings()
    setup_logging(settings.log_level, service="stems")
    say_unread(Settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
