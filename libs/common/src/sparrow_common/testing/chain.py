"""Talking to the chain service directly over gRPC, in tests."""

from __future__ import annotations

from collections.abc import Iterator

from sparrow.v1 import chain_pb2, common_pb2

from sparrow_common.audio import split

# Smaller than the services' own chunks, so an upload takes several messages.
CHUNK = 64 * 1024


def upload(data: bytes, title: str = "song", filename: str = "song.wav") -> Iterator[chain_pb2.CreateChainRequest]:
    """CreateChain's request stream for `data`: the header, then the audio in chunks."""
    yield chain_pb2.CreateChainRequest(header=chain_pb2.CreateChainHeader(title=title, filename=filename))
    for chunk in split(data, CHUNK):
        yield chain_pb2.CreateChainRequest(chunk=common_pb2.AudioChunk(data=chunk))
