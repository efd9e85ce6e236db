"""python -m sparrow_chain: run the chain service from CHAIN_* settings."""

import asyncio

from sparrow_chain.config import Settings
from sparrow_chain.server import serve
from sparrow_common.logs import setup_logging
from sparrow_common.settings import say_unread


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level, service="chain")
    say_unread(Settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
