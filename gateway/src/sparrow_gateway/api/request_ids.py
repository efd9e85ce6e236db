"""Every request gets an id: the caller's X-Request-ID when it sends a sensible
one, else a new one. It is in the answer's X-Request-ID, in every log line, and
in the metadata of every call to the chain service, which hands it on to the
workers (sparrow_common.request_id)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparrow_common import request_id

HEADER = b"x-request-id"


class RequestIds:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        value = request_id.acceptable(sent)
        # Each request runs in a task of its own, so this stays with the request.
        request_id.use(value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, value.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)
