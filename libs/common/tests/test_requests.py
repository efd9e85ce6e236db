"""A call whose request stream raises ends with that error, not a bare cancellation."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from sparrow_common.channels import Requests, its_error_raised, open_channel

METHOD = "/test.Echo/Collect"


async def _collect(request_iterator, context):
    # A server that reads everything sent, then answers with the byte count.
    return str(sum([len(message) async for message in request_iterator])).encode()


@pytest.fixture
async def address():
    server = grpc.aio.server()
    handler = grpc.stream_unary_rpc_method_handler(_collect)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {"Collect": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def _call(address: str, requests):
    channel = open_channel(address)
    try:
        collect = channel.stream_unary(METHOD)
        return await collect(requests, timeout=30)
    finally:
        await channel.close()


async def test_the_error_of_a_request_stream_is_the_calls(address):
    async def broken():
        yield b"first"
        raise FileNotFoundError("the clip's file")

    requests = Requests(broken())
    with pytest.raises(FileNotFoundError, match="the clip's file"):
        with its_error_raised(requests):
            await _call(address, requests)


async def test_without_the_wrapper_the_call_is_only_cancelled(address):
    """Why Requests exists: gRPC alone says nothing of what the stream raised."""

    async def broken():
        yield b"first"
        raise FileNotFoundError("the clip's file")

    with pytest.raises(asyncio.CancelledError):
        await _call(address, broken())


async def test_a_whole_stream_answers_as_ever(address):
    async def whole():
        yield b"abc"
        yield b"de"

    requests = Requests(whole())
    with its_error_raised(requests):
        assert await _call(address, requests) == b"5"
    assert requests.error is None
