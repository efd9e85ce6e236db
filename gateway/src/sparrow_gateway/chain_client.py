"""The gateway's one channel to the chain service: every call has a deadline,
and answers in the REST API's schemas (convert.py), so the routes speak what
OpenAPI documents and never touch protobuf. Errors surface as AioRpcError
(api/errors.py maps them to HTTP)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sparrow.v1 import chain_pb2, chain_pb2_grpc, common_pb2

from sparrow_common import request_id
from sparrow_common.audio import CHUNK_BYTES
from sparrow_common.channels import open_channel
from sparrow_common.convert import knobs_to_pb
from sparrow_common.params import MIX, Knobs
from sparrow_gateway import convert, schemas
from sparrow_gateway.config import Settings

SERVICE = "sparrow.v1.ChainService"
# The chain service scopes every call to this user (see its README).
USER_METADATA_KEY = "x-sparrow-user"


@dataclass(frozen=True)
class Download:
    """A file the chain service streams: what it is, then its bytes."""

    content_type: str
    size_bytes: int
    chunks: AsyncIterator[bytes]


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield


async def _download(call) -> Download:
    """A file the call streams (ReadNodeAudio, ReadStemAudio, ExportChain):
    whatever comes before the file's info (an export's progress) is read past,
    and the info read, before this returns, so a missing blob or a failed
    render is a clean error before the HTTP answer starts, not a cut body."""
    while (reply := await call.read()) is not grpc.aio.EOF and reply.WhichOneof("part") != "info":
        pass
    if reply is grpc.aio.EOF:
        call.cancel()
        raise RuntimeError("the stream ended without a file")

    async def chunks():
        try:
            while (message := await call.read()) is not grpc.aio.EOF:
                if message.WhichOneof("part") == "chunk":
                    yield message.chunk.data
        finally:
            call.cancel()

    return Download(reply.info.content_type, reply.info.size_bytes, chunks())


class ChainClient:
    """Async calls to ChainServiceStub, answering in the REST API's schemas."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.channel = open_channel(settings.chain_addr)
        self.stub = chain_pb2_grpc.ChainServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.metadata: tuple[tuple[str, str], ...] = ()
        self.take_limits: tuple[int, int] | None = None

    def as_user(self, user: str, take_limits: tuple[int, int] | None = None) -> ChainClient:
        """The same channel, with every call made on behalf of `user`, carrying
        the id of the request being handled; takes are asked under `take_limits`
        (waiting at once, per day)."""
        bound = copy.copy(self)
        bound.metadata = ((USER_METADATA_KEY, user), *request_id.metadata())
        bound.take_limits = take_limits
        return bound

    async def close(self) -> None:
        await self.channel.close()

    @property
    def _timeout(self) -> float:
        return self.settings.rpc_timeout_s

    async def ready(self) -> bool:
        try:
            reply = await self.health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=1.0)
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def create_chain(self, title: str, filename: str, chunks: AsyncIterator[bytes] | None):
        """A chain from an uploaded clip's `chunks`, or from words (None): its
        root is then the beginning, with no audio."""

        async def requests():
            yield chain_pb2.CreateChainRequest(
                header=chain_pb2.CreateChainHeader(title=title, filename=filename, from_words=chunks is None)
            )
            async for data in chunks or _nothing():
                yield chain_pb2.CreateChainRequest(chunk=common_pb2.AudioChunk(data=data))

        reply = await self.stub.CreateChain(requests(), timeout=self.settings.upload_timeout_s, metadata=self.metadata)
        root = convert.node(reply.root)
        return convert.chain(reply.chain, schemas.ChainCreated, nodes=[root], root=root)

    async def list_chains(self, page_size: int, page_token: str) -> tuple[list[schemas.Chain], str]:
        """A page of the caller's chains, and the token of the next page ("" at the end)."""
        reply = await self.stub.ListChains(
            chain_pb2.ListChainsRequest(page_size=page_size, page_token=page_token), timeout=self._timeout, metadata=self.metadata
        )
        return [convert.chain(c, schemas.Chain) for c in reply.chains], reply.next_page_token

    async def get_chain(self, chain_id: str) -> schemas.ChainWithNodes:
        reply = await self.stub.GetChain(chain_pb2.GetChainRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)
        return convert.chain(
            reply.chain, schemas.ChainWithNodes, nodes=[convert.node(n) for n in reply.nodes],
            history=convert.history(reply.history),
        )

    async def rename(self, chain_id: str, title: str) -> schemas.Chain:
        reply = await self.stub.RenameChain(
            chain_pb2.RenameChainRequest(chain_id=chain_id, title=title), timeout=self._timeout, metadata=self.metadata
        )
        return convert.chain(reply.chain, schemas.Chain)

    async def fork(self, node_id: str, title: str | None) -> schemas.ChainWithNodes:
        reply = await self.stub.ForkChain(
            chain_pb2.ForkChainRequest(node_id=node_id, title=title or ""), timeout=self._timeout, metadata=self.metadata
        )
        return convert.chain(reply.chain, schemas.ChainWithNodes, nodes=[convert.node(n) for n in reply.nodes])

    async def bin(self, chain_id: str) -> schemas.Bin:
        reply = await self.stub.ListBin(chain_pb2.ListBinRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)
        return schemas.Bin(nodes=[convert.node(n) for n in reply.nodes])

    async def empty_bin(self, chain_id: str) -> schemas.BinEmptied:
        reply = await self.stub.EmptyBin(chain_pb2.EmptyBinRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)
        return schemas.BinEmptied(deleted=reply.deleted, history=convert.history(reply.history))

    async def undo(self, chain_id: str) -> schemas.Undone:
        reply = await self.stub.Undo(chain_pb2.UndoRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)
        return schemas.Undone(move=convert.move(reply.undone), history=convert.history(reply.history))

    async def redo(self, chain_id: str) -> schemas.Undone:
        reply = await self.stub.Redo(chain_pb2.RedoRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)
        return schemas.Undone(move=convert.move(reply.redone), history=convert.history(reply.history))

    async def set_grid(self, node_id: str, body: schemas.GridRequest) -> schemas.Regridded:
        """The musician's whole correction of the part's grid (what it leaves null is as heard)."""
        reply = await self.stub.SetGrid(
            chain_pb2.SetGridRequest(node_id=node_id, correction=convert.grid_correction_to_pb(body)),
            timeout=self._timeout, metadata=self.metadata,
        )
        return schemas.Regridded(node=convert.node(reply.node), history=convert.history(reply.history))

    async def uncommit(self, node_id: str) -> schemas.Moved:
        reply = await self.stub.UncommitNode(chain_pb2.UncommitNodeRequest(node_id=node_id), timeout=self._timeout, metadata=self.metadata)
        return convert.moved(reply)

    async def restore(self, node_id: str) -> schemas.Moved:
        reply = await self.stub.RestoreNode(chain_pb2.RestoreNodeRequest(node_id=node_id), timeout=self._timeout, metadata=self.metadata)
        return convert.moved(reply)

    async def delete_chain(self, chain_id: str) -> None:
        await self.stub.DeleteChain(chain_pb2.DeleteChainRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)

    async def spine(self, chain_id: str) -> list[schemas.Node]:
        reply = await self.stub.GetSpine(chain_pb2.GetSpineRequest(chain_id=chain_id), timeout=self._timeout, metadata=self.metadata)
        return [convert.node(n) for n in reply.nodes]

    async def get_node(self, node_id: str) -> schemas.Node:
        reply = await self.stub.GetNode(chain_pb2.GetNodeRequest(node_id=node_id), timeout=self._timeout, metadata=self.metadata)
        return convert.node(reply.node)

    async def create_takes(
        self, parent_id: str, knobs: Knobs, count: int, *, align: str = "seconds", prompt_source: str = MIX,
        melody: schemas.Melody | None = None, from_s: float | None = None, until_s: float | None = None,
        intro: bool = False, until_node_id: str | None = None,
    ):
        """`count` takes of the parent with `knobs`, their prompt placed by
        `align` and heard from `prompt_source` of the path, all conditioned on
        `melody` when given, continuing from `from_s` into the parent when given
        (replacing the stretch to `until_s` with it); with `intro`, leading into it."""
        request = chain_pb2.CreateTakesRequest(
            parent_id=parent_id, knobs=knobs_to_pb(knobs), count=count, align=convert.align_to_pb(align),
            prompt_source=prompt_source,
        )
        if from_s is not None:
            request.from_s = from_s
        if until_s is not None:
            request.until_s = until_s
        request.intro = intro
        if until_node_id is not None:
            request.until_node_id = until_node_id
        if melody is not None:
            request.melody.CopyFrom(chain_pb2.Melody(node_id=str(melody.node_id), stem=melody.stem or ""))
        if self.take_limits is not None:
            waiting, per_day = self.take_limits
            request.limits.CopyFrom(chain_pb2.TakeLimits(max_waiting=waiting, per_day=per_day))
        reply = await self.stub.CreateTakes(request, timeout=self._timeout, metadata=self.metadata)
        return [convert.node(n) for n in reply.nodes]

    async def usage(self) -> schemas.Usage:
        """The caller's takes waiting, asked today, and when today's count resets."""
        return convert.usage(
            await self.stub.GetUsage(chain_pb2.GetUsageRequest(), timeout=self._timeout, metadata=self.metadata)
        )

    async def presets(self) -> list[schemas.Preset]:
        """The caller's presets of knobs, by name."""
        reply = await self.stub.ListPresets(chain_pb2.ListPresetsRequest(), timeout=self._timeout, metadata=self.metadata)
        return [convert.preset(p) for p in reply.presets]

    async def save_preset(self, name: str, knobs: Knobs) -> schemas.Preset:
        reply = await self.stub.SavePreset(
            chain_pb2.SavePresetRequest(name=name, knobs=knobs_to_pb(knobs)), timeout=self._timeout, metadata=self.metadata
        )
        return convert.preset(reply.preset)

    async def delete_preset(self, name: str) -> None:
        await self.stub.DeletePreset(chain_pb2.DeletePresetRequest(name=name), timeout=self._timeout, metadata=self.metadata)

    async def commit(self, node_id: str) -> schemas.Moved:
        reply = await self.stub.CommitNode(chain_pb2.CommitNodeRequest(node_id=node_id), timeout=self._timeout, metadata=self.metadata)
        return convert.moved(reply)

    async def discard(self, node_id: str) -> schemas.Discarded:
        reply = await self.stub.DiscardNode(chain_pb2.DiscardNodeRequest(node_id=node_id), timeout=self._timeout, metadata=self.metadata)
        return schemas.Discarded(history=convert.history(reply.history))

    async def read_audio(self, node_id: str, offset: int, length: int) -> Download:
        """`length` bytes of the node's audio from `offset`."""
        return await _download(
            self.stub.ReadNodeAudio(
                chain_pb2.ReadNodeAudioRequest(node_id=node_id, offset=offset, length=length),
                timeout=self.settings.upload_timeout_s,
                metadata=self.metadata,
            )
        )

    async def separate_stems(self, node_id: str, model: str = "") -> schemas.StemSet:
        reply = await self.stub.SeparateStems(
            chain_pb2.SeparateStemsRequest(node_id=node_id, model=model), timeout=self._timeout, metadata=self.metadata
        )
        return convert.stems(reply.stems)

    async def get_stems(self, node_id: str, model: str = "") -> schemas.StemSet:
        reply = await self.stub.GetStems(
            chain_pb2.GetStemsRequest(node_id=node_id, model=model), timeout=self._timeout, metadata=self.metadata
        )
        return convert.stems(reply.stems)

    async def read_stem(self, node_id: str, stem: str, model: str, offset: int, length: int) -> Download:
        """`length` bytes of one stem's WAV (by `model`) from `offset`."""
        return await _download(
            self.stub.ReadStemAudio(
                chain_pb2.ReadStemAudioRequest(node_id=node_id, stem=stem, model=model, offset=offset, length=length),
                timeout=self.settings.upload_timeout_s,
                metadata=self.metadata,
            )
        )

    async def export(self, chain_id: str, body: schemas.ExportRequest) -> Download:
        """The spine rendered as one file (or, with `stems`, one zip of the mix and
        its stems; with `loop`, that stretch alone, made to repeat, closed with
        a bar of glue with `glue`)."""
        return await _download(
            self.stub.ExportChain(
                chain_pb2.ExportChainRequest(
                    chain_id=chain_id,
                    format=chain_pb2.ExportFormat.Value(f"EXPORT_FORMAT_{body.format.upper()}"),
                    crossfade_ms=body.crossfade_ms,
                    normalize=body.normalize,
                    match_parts=body.match_parts,
                    stems=body.stems,
                    stems_model=body.stems_model or "",
                    loop=common_pb2.Stretch(from_s=body.loop.from_s, until_s=body.loop.until_s) if body.loop else None,
                    without=body.without,
                    glue=body.glue,
                ),
                timeout=self.settings.upload_timeout_s,
                metadata=self.metadata,
            )
        )

    async def watch(self, chain_id: str, after_seq: int) -> AsyncIterator[schemas.Event]:
        """The chain's events after `after_seq`, then new ones, until the
        watch's deadline (DEADLINE_EXCEEDED: open it again from the last seen)."""
        call = self.stub.WatchChain(
            chain_pb2.WatchChainRequest(chain_id=chain_id, after_seq=after_seq),
            timeout=self.settings.watch_deadline_s,
            metadata=self.metadata,
        )
        try:
            async for reply in call:
                yield convert.event(reply.event)
        finally:
            call.cancel()


__all__ = ["CHUNK_BYTES", "ChainClient"]
