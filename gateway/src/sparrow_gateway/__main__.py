"""python -m sparrow_gateway: serve the gateway from GATEWAY_* settings."""

import uvicorn

from sparrow_common.logs import setup_logging
from sparrow_common.settings import say_unread
from sparrow_common.metrics import serve_metrics
from sparrow_gateway.config import Settings
from sparrow_gateway.main import create_app


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level, service="gateway")
    say_unread(Settings)
    serve_metrics(settings.host, settings.metrics_port)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # uvicorn's own lines go through our handler: JSON, with the request id.
        log_config=None,
        # Let SSE streams and uploads finish or close before the process goes.
        timeout_graceful_shutdown=settings.grace_s,
    )


if __name__ == "__main__":
    main()
