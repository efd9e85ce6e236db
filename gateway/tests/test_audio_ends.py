"""An audio answer (or export, through the same `whole`) whose chain stream
fails after its last byte is whole, and its connection stays up (issue 29's load run: the chain killed between a file's
last chunk and its status closed the connection under the client's next request)."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest
from fastapi import FastAPI, Request

from sparrow_gateway.api.audio import audio_response
from sparrow_gateway.chain_client import Download

AUDIO = b"RIFF" + bytes(range(256)) * 16


def gone(after: bytes):
    """A download that sends `after`, then ends as a chain killed mid-call does."""

    async def chunks():
        for start in range(0, len(after), 1000):
            yield after[start:start + 1000]
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "Stream removed"
        )

    return Download("audio/wav", len(AUDIO), chunks())


def app_sending(sent: bytes) -> FastAPI:
    app = FastAPI()

    @app.get("/audio")
    async def audio(request: Request):
        async def open_stream(offset: int, length: int) -> Download:
            return gone(sent[offset:offset + length])

        return await audio_response(request, open_stream, len(AUDIO), "audio/wav", "a.wav")

    return app


async def fetch(app: FastAPI, headers=None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/audio", headers=headers or {})


@pytest.mark.parametrize("byte_range", [None, "bytes=100-"])
def test_a_stream_failing_after_the_last_byte_leaves_the_answer_whole(byte_range):
    reply = asyncio.run(fetch(app_sending(AUDIO), {"Range": byte_range} if byte_range else None))
    assert reply.status_code == (206 if byte_range else 200)
    assert reply.content == (AUDIO[100:] if byte_range else AUDIO)


def test_a_stream_failing_before_the_last_byte_is_still_cut():
    with pytest.raises(grpc.aio.AioRpcError):
        asyncio.run(fetch(app_sending(AUDIO[:2000])))
