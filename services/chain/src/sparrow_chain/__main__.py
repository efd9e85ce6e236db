"""python -m sparrow_chain: run the chain service from CHAIN_* settings."""

import asyncio

from sparrow_chain.config import Settings
from sparrow_chain.server import serve
from sparrow_common.logs import setup_logging


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level, service="chain")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
