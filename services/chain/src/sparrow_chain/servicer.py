"""ChainService over gRPC: protobuf in and out, the store and blobs underneath."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from sparrow.v1 import chain_pb2, chain_pb2_grpc, common_pb2, generation_pb2, generation_pb2_grpc

from sparrow_chain.audio_work import AudioWork
from sparrow_chain.bell import EventBell
from sparrow_chain import blobs
from sparrow_chain.blobs import BlobStore, Incoming
from sparrow_chain.config import Settings
from sparrow_chain.convert import (
    audio_to_pb,
    chain_to_pb,
    correction_from_pb,
    event_to_pb,
    history_to_pb,
    limits_from_pb,
    melody_from_pb,
    move_to_pb,
    node_to_pb,
    preset_to_pb,
    recipe_from_pb,
    stems_to_pb,
    usage_to_pb,
)
from sparrow_chain import splits
from sparrow_chain.domain import (
    EventKind, Melody, Recipe, StemsStatus, StoredAudio, TakeLimits, check_stem_name,
)
from sparrow_chain.splits import stems_model
from sparrow_chain.export import Exporter
from sparrow_chain.glue import glued
from sparrow_chain.kinds.analysis import Analysis
from sparrow_chain.kinds.takes import Takes
from sparrow_chain.loops import loop_stretch
from sparrow_chain.store import ChainStore, StemStore
from sparrow_chain.store import Removed
from sparrow_chain.store.chains import MAX_TITLE_CHARS
from sparrow_common import numbers, request_id
from sparrow_common.audio import AudioLimits, chunks_in_thread
from sparrow_common.convert import knobs_from_pb
from sparrow_common.errors import Conflict, InvalidArgument, NotFound, TooLarge
from sparrow_common.ids import new_id, parse_id
from sparrow_common.model import MELODY_CHECKPOINTS

log = logging.getLogger(__name__)

USER_METADATA_KEY = "x-sparrow-user"
MAX_PAGE_SIZE = 200
# How long a request with a melody waits for a generation worker to say whether
# its model can take one; a worker that doesn't answer by then refuses nothing.
CAPACITY_TIMEOUT_S = 1.0


def caller(context: grpc.aio.ServicerContext) -> str:
    """The user the gateway vouches for ("" when none is named)."""
    for key, value in context.invocation_metadata() or ():
        if key == USER_METADATA_KEY:
            return value
    return ""


class ChainServicer(chain_pb2_grpc.ChainServiceServicer):
    def __init__(
        self,
        store: ChainStore,
        blobs: BlobStore,
        settings: Settings,
        bell: EventBell,
        on_change: Callable[[str], None] | None = None,
        exporter: Exporter | None = None,
        stems: StemStore | None = None,
        generation: generation_pb2_grpc.GenerationServiceStub | None = None,
        audio: AudioWork | None = None,
        writing: Takes | None = None,
        listening: Analysis | None = None,
    ):
        self.store = store
        self.blobs = blobs
        self.audio = audio or AudioWork(settings.audio_threads)
        self.settings = settings
        self.bell = bell
        # Told of every write: wakes watchers, and the dispatcher (new jobs, discarded takes).
        self.changed = on_change or bell.ring
        self.exporter = exporter or Exporter(blobs, settings)
        self.stems = stems or StemStore(store.engine)
        # Asked whether its model can take a melody; None: never asked (no workers).
        self.generation = generation
        # The takes and analysis kinds, for a loop's glue (glue.py): written and
        # heard for the export alone. None: no workers (glue is refused).
        self.writing = writing
        self.listening = listening

    async def _drop_blobs(self, removed: Iterable[Removed]) -> None:
        """Delete the audio of removed nodes that no other node holds (a fork
        shares its parts'), and the stems no node holds any more."""
        await self._drop_keys([item.audio_key for item in removed if item.audio_key])

    async def _drop_keys(self, keys: list[str]) -> None:
        for key in await asyncio.to_thread(self.store.unheld, keys):
            await asyncio.to_thread(self.blobs.delete, key)
        await self._drop_unheld_stems()

    async def _drop_unheld_stems(self) -> None:
        for key in await asyncio.to_thread(self.stems.sweep_unheld):
            await asyncio.to_thread(self.blobs.delete, key)

    # -- chains ---------------------------------------------------------------

    async def CreateChain(self, request_iterator, context):
        owner = caller(context)
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidArgument("the first message must be the chain's header")
        title = first.header.title.strip()
        if len(title) > MAX_TITLE_CHARS:
            raise InvalidArgument(f"title is longer than {MAX_TITLE_CHARS} characters")
        from_words = first.header.from_words
        if from_words and first.header.filename:
            raise InvalidArgument("a chain started from words has no file")
        # A file's name stands in for the title, cut to fit.
        title = title or Path(first.header.filename).stem.strip()[:MAX_TITLE_CHARS].strip() or "Untitled"
        filename = Path(first.header.filename).name[:255]
        incoming = await asyncio.to_thread(self.blobs.receive)
        key = None
        try:
            if from_words:
                if await anext(aiter(request_iterator), None) is not None:
                    raise InvalidArgument("a chain started from words takes no audio")
            else:
                await self._receive(request_iterator, incoming)
            chain_id, root_id = new_id(), new_id()
            key = f"{chain_id}/{root_id}.{{ext}}"
            if from_words:
                audio = await asyncio.to_thread(blobs.store_beginning, self.blobs, incoming, key)
            else:
                limits = AudioLimits(max_duration_s=self.settings.max_audio_s)
                audio = await self.audio.run(blobs.store, self.blobs, incoming.path, key, limits)
            chain, root = await asyncio.to_thread(
                self.store.create_chain, owner, chain_id, root_id, title, filename, audio, from_words
            )
        except BaseException:
            # Nothing half-written: no blob without its row.
            if key is not None:
                await asyncio.to_thread(self.blobs.delete_prefix, key.split("/")[0])
            raise
        finally:
            # Storage broken under a running upload (its folder swapped for a file, say)
            # fails the removal too: that must not hide how the upload ended (503 or 507).
            with suppress(OSError):
                incoming.path.unlink(missing_ok=True)
        self.changed(chain.id)
        if from_words:
            log.info("chain %s started from words", chain.id)
        else:
            log.info("chain %s created from %s (%s, %.1fs)", chain.id, filename, audio.format, audio.duration_s)
        return chain_pb2.CreateChainResponse(chain=chain_to_pb(chain), root=node_to_pb(root))

    async def _receive(self, request_iterator, target: Incoming) -> None:
        limit = self.settings.max_upload_bytes
        received = 0
        with target:
            async for message in request_iterator:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgument("only audio chunks may follow the header")
                received += len(message.chunk.data)
                if received > limit:
                    raise TooLarge(f"the upload is larger than the limit of {limit} bytes")
                target.write(message.chunk.data)

    async def GetChain(self, request, context):
        owner, chain_id = caller(context), parse_id(request.chain_id, "chain id")
        chain, nodes = await asyncio.to_thread(self.store.get_chain, owner, chain_id)
        history = await asyncio.to_thread(self.store.history, owner, chain_id)
        return chain_pb2.GetChainResponse(
            chain=chain_to_pb(chain), nodes=[node_to_pb(n) for n in nodes], history=history_to_pb(history)
        )

    async def ListChains(self, request, context):
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        size = request.page_size or 50
        try:
            offset = numbers.count(request.page_token or "0", "page_token")
        except InvalidArgument:
            raise InvalidArgument("page_token is not one this service handed out") from None
        chains = await asyncio.to_thread(self.store.list_chains, caller(context), size + 1, offset)
        next_token = str(offset + size) if len(chains) > size else ""
        return chain_pb2.ListChainsResponse(
            chains=[chain_to_pb(c) for c in chains[:size]], next_page_token=next_token
        )

    async def DeleteChain(self, request, context):
        chain_id = parse_id(request.chain_id, "chain id")
        keys = await asyncio.to_thread(self.store.delete_chain, caller(context), chain_id)
        await self._drop_keys(keys)
        self.changed(chain_id)
        return chain_pb2.DeleteChainResponse()

    async def RenameChain(self, request, context):
        chain = await asyncio.to_thread(
            self.store.rename, caller(context), parse_id(request.chain_id, "chain id"), request.title
        )
        self.changed(chain.id)
        return chain_pb2.RenameChainResponse(chain=chain_to_pb(chain))

    async def ForkChain(self, request, context):
        chain, nodes = await asyncio.to_thread(
            self.store.fork, caller(context), parse_id(request.node_id, "node id"), new_id(), request.title or None
        )
        return chain_pb2.ForkChainResponse(chain=chain_to_pb(chain), nodes=[node_to_pb(n) for n in nodes])

    # -- nodes ----------------------------------------------------------------

    async def GetNode(self, request, context):
        node = await asyncio.to_thread(self.store.get_node, caller(context), parse_id(request.node_id, "node id"))
        return chain_pb2.GetNodeResponse(node=node_to_pb(node))

    async def GetSpine(self, request, context):
        nodes = await asyncio.to_thread(self.store.spine, caller(context), parse_id(request.chain_id, "chain id"))
        return chain_pb2.GetSpineResponse(nodes=[node_to_pb(n) for n in nodes])

    async def CreateTakes(self, request, context):
        nodes = await self._create_takes(
            context, request.parent_id, recipe_from_pb(request), request.count, melody_from_pb(request),
            limits_from_pb(request), request.from_s if request.HasField("from_s") else None,
            request.until_s if request.HasField("until_s") else None, request.intro,
            parse_id(request.until_node_id, "until_node_id") if request.until_node_id else None,
        )
        return chain_pb2.CreateTakesResponse(nodes=nodes)

    async def GetUsage(self, request, context):
        return usage_to_pb(await asyncio.to_thread(self.store.usage, caller(context)))

    async def ListPresets(self, request, context):
        found = await asyncio.to_thread(self.store.presets, caller(context))
        return chain_pb2.ListPresetsResponse(presets=[preset_to_pb(p) for p in found])

    async def SavePreset(self, request, context):
        knobs = knobs_from_pb(request.knobs)
        saved = await asyncio.to_thread(self.store.save_preset, caller(context), request.name, knobs)
        return chain_pb2.SavePresetResponse(preset=preset_to_pb(saved))

    async def DeletePreset(self, request, context):
        await asyncio.to_thread(self.store.delete_preset, caller(context), request.name)
        return chain_pb2.DeletePresetResponse()

    async def _create_takes(
        self,
        context,
        parent_id: str,
        recipe: Recipe,
        count: int,
        melody: Melody | None,
        limits: TakeLimits,
        from_s: float | None = None,
        until_s: float | None = None,
        intro: bool = False,
        until_node_id: str | None = None,
    ):
        parent = parse_id(parent_id, "parent id")
        if melody is not None:
            await self._check_model_takes_melody()
        nodes = await asyncio.to_thread(
            self.store.create_takes, caller(context), parent, recipe, count, melody, limits, from_s, until_s, intro,
            until_node_id,
        )
        self.changed(nodes[0].chain_id)
        return [node_to_pb(n) for n in nodes]

    async def _check_model_takes_melody(self) -> None:
        """Refuse a melody at once when the generation worker's loaded model
        can't take one. A worker that doesn't answer, or is still loading, refuses
        nothing: the job waits for it, and ends in error with its reason if it can't."""
        if self.generation is None:
            return
        try:
            reply = await self.generation.GetCapacity(
                generation_pb2.GetCapacityRequest(), timeout=CAPACITY_TIMEOUT_S, metadata=request_id.metadata()
            )
        except grpc.aio.AioRpcError as error:
            log.info("no generation worker said whether it takes a melody (%s); the job will", error.code().name)
            return
        capacity = reply.capacity
        if capacity.ready and not capacity.supports_melody:
            raise InvalidArgument(
                f"the generation model '{capacity.model}' can't be conditioned on a melody: only a MusicGen "
                f"melody checkpoint can ({MELODY_CHECKPOINTS}); ask without a melody, or run the generation "
                "workers with one"
            )

    async def CommitNode(self, request, context):
        node, history = await asyncio.to_thread(self.store.commit, caller(context), parse_id(request.node_id, "node id"))
        self.changed(node.chain_id)
        return chain_pb2.CommitNodeResponse(node=node_to_pb(node), history=history_to_pb(history))

    async def DiscardNode(self, request, context):
        node_id = parse_id(request.node_id, "node id")
        owner = caller(context)
        chain_id = (await asyncio.to_thread(self.store.get_node, owner, node_id)).chain_id
        history = await asyncio.to_thread(self.store.discard, owner, node_id)
        self.changed(chain_id)
        return chain_pb2.DiscardNodeResponse(history=history_to_pb(history))

    async def UncommitNode(self, request, context):
        node, history = await asyncio.to_thread(self.store.uncommit, caller(context), parse_id(request.node_id, "node id"))
        self.changed(node.chain_id)
        return chain_pb2.UncommitNodeResponse(node=node_to_pb(node), history=history_to_pb(history))

    async def RestoreNode(self, request, context):
        node, history = await asyncio.to_thread(self.store.restore, caller(context), parse_id(request.node_id, "node id"))
        self.changed(node.chain_id)
        return chain_pb2.RestoreNodeResponse(node=node_to_pb(node), history=history_to_pb(history))

    async def SetGrid(self, request, context):
        node, history = await asyncio.to_thread(
            self.store.set_grid, caller(context), parse_id(request.node_id, "node id"),
            correction_from_pb(request.correction),
        )
        self.changed(node.chain_id)
        return chain_pb2.SetGridResponse(node=node_to_pb(node), history=history_to_pb(history))

    async def ListBin(self, request, context):
        nodes = await asyncio.to_thread(self.store.bin, caller(context), parse_id(request.chain_id, "chain id"))
        return chain_pb2.ListBinResponse(nodes=[node_to_pb(n) for n in nodes])

    async def EmptyBin(self, request, context):
        chain_id = parse_id(request.chain_id, "chain id")
        removed, history = await asyncio.to_thread(self.store.empty_bin, caller(context), chain_id)
        await self._drop_blobs(removed)
        self.changed(chain_id)
        return chain_pb2.EmptyBinResponse(deleted=len(removed), history=history_to_pb(history))

    async def Undo(self, request, context):
        chain_id = parse_id(request.chain_id, "chain id")
        move, history = await asyncio.to_thread(self.store.undo, caller(context), chain_id)
        self.changed(chain_id)
        return chain_pb2.UndoResponse(undone=move_to_pb(move), history=history_to_pb(history))

    async def Redo(self, request, context):
        chain_id = parse_id(request.chain_id, "chain id")
        move, history = await asyncio.to_thread(self.store.redo, caller(context), chain_id)
        self.changed(chain_id)
        return chain_pb2.RedoResponse(redone=move_to_pb(move), history=history_to_pb(history))

    async def sweep_bin(self, ttl_s: float) -> int:
        """Empty every chain's bin of what went there more than `ttl_s` ago."""
        removed = await asyncio.to_thread(self.store.sweep_bin, datetime.now(UTC) - timedelta(seconds=ttl_s))
        await self._drop_blobs(removed)
        return len(removed)

    async def ReadNodeAudio(self, request, context) -> AsyncIterator[chain_pb2.ReadNodeAudioResponse]:
        node = await asyncio.to_thread(self.store.get_node, caller(context), parse_id(request.node_id, "node id"))
        if node.audio is None:
            raise NotFound(f"node {node.id} has no audio yet (it is {node.status.value})")
        async for info, chunk in self._read_blob(node.audio, request.offset, request.length):
            yield chain_pb2.ReadNodeAudioResponse(info=info, chunk=chunk)

    async def _read_blob(self, audio: StoredAudio, offset: int, length: int):
        """(info, None) first, then (None, chunk) for each piece of the range."""
        if offset < 0 or length < 0:
            raise InvalidArgument("offset and length must not be negative")
        if offset > audio.size_bytes:
            raise InvalidArgument(f"offset {offset} is past the end ({audio.size_bytes} bytes)")
        # Opened before the info goes: a file that is gone is NOT_FOUND before
        # the gateway has answered anything, not a cut download.
        chunks = await asyncio.to_thread(self.blobs.read, audio.key, offset, length)
        yield audio_to_pb(audio), None
        async for data in chunks_in_thread(chunks):
            yield None, common_pb2.AudioChunk(data=data)

    # -- stems ----------------------------------------------------------------

    async def SeparateStems(self, request, context):
        node = await asyncio.to_thread(self.store.get_node, caller(context), parse_id(request.node_id, "node id"))
        model = stems_model(self.settings, request.model)
        stems = await asyncio.to_thread(splits.ask, self.stems, self.blobs, node, model)
        self.changed(node.chain_id)
        return chain_pb2.SeparateStemsResponse(stems=stems_to_pb(node.id, stems))

    async def GetStems(self, request, context):
        node = await asyncio.to_thread(self.store.get_node, caller(context), parse_id(request.node_id, "node id"))
        model = stems_model(self.settings, request.model)
        stems = await asyncio.to_thread(self.stems.get, await asyncio.to_thread(self.stems.hash_of, node.id), model)
        return chain_pb2.GetStemsResponse(stems=stems_to_pb(node.id, stems))

    async def ReadStemAudio(self, request, context) -> AsyncIterator[chain_pb2.ReadStemAudioResponse]:
        node = await asyncio.to_thread(self.store.get_node, caller(context), parse_id(request.node_id, "node id"))
        check_stem_name(request.stem[:64])
        model = stems_model(self.settings, request.model)
        stems = await asyncio.to_thread(self.stems.get, await asyncio.to_thread(self.stems.hash_of, node.id), model)
        audio = stems.files.get(request.stem)
        if audio is None:
            if stems.status is StemsStatus.READY:
                raise NotFound(f"the {model} stems of node {node.id} have no {request.stem} (they are {', '.join(stems.files)})")
            raise NotFound(f"the {model} stems of node {node.id} are not ready (they are {stems.status.value})")
        async for info, chunk in self._read_blob(audio, request.offset, request.length):
            yield chain_pb2.ReadStemAudioResponse(info=info, chunk=chunk)

    async def ExportChain(self, request, context) -> AsyncIterator[chain_pb2.ExportChainResponse]:
        spine = await asyncio.to_thread(self.store.spine, caller(context), parse_id(request.chain_id, "chain id"))
        self.exporter.check(request)
        # A chain started from words begins with a part that has no audio; a root
        # with an intro before it plays nothing of itself (the rest of it follows the intro).
        spine = [node for node in spine if node.heard_s > 0]
        if not spine:
            raise Conflict("the spine has no audio yet: commit a take of the beginning first")
        if request.stems and request.without:
            raise InvalidArgument("leave stems out of one file, or export every stem: not both")
        loop = None
        if request.HasField("loop"):
            if request.stems:
                raise InvalidArgument("a loop is exported as the mix alone, without stems")
            loop = loop_stretch(spine, request.loop.from_s, request.loop.until_s)
        glue = None
        if request.glue:
            if loop is None:
                raise InvalidArgument("glue closes a loop: ask for it with loop")
            if request.without:
                raise InvalidArgument("a glued loop is the mix alone: leave out without")
            if self.writing is None:
                raise Conflict("no generation worker is set up to write a loop's glue")
            yield chain_pb2.ExportChainResponse(progress=common_pb2.Progress(step=0, total=1))
            made = await glued(spine, loop, self.writing, self.listening)
            spine, loop, glue = made.spine, made.loop, made.glue
            yield chain_pb2.ExportChainResponse(progress=common_pb2.Progress(step=1, total=1))
        stems = None
        # Leaving a stem out needs every part's stems, as exporting them does.
        if request.stems or request.without:
            model = stems_model(self.settings, request.stems_model)
            waiting = splits.spine_stems(
                self.stems, self.blobs, self.bell, spine, model, self.settings.watch_poll_s, self.changed
            )
            async for ready, stems in waiting:
                # Parts with their stems ready, of all: the stems of the rest are being made.
                yield chain_pb2.ExportChainResponse(progress=common_pb2.Progress(step=ready, total=len(spine)))
        async for reply in self.exporter.render(spine, request, stems, loop, glue):
            yield reply

    # -- events ---------------------------------------------------------------

    async def WatchChain(self, request, context) -> AsyncIterator[chain_pb2.WatchChainResponse]:
        owner = caller(context)
        chain_id = parse_id(request.chain_id, "chain id")
        if request.after_seq < 0:
            raise InvalidArgument("after_seq must not be negative")
        if await asyncio.to_thread(self.store.chain_seq, owner, chain_id) is None:
            raise NotFound(f"chain {chain_id} not found")
        last = request.after_seq
        while True:
            wake = self.bell.arm(chain_id)
            batch = await asyncio.to_thread(self.store.events_after, chain_id, last)
            for event in batch:
                yield chain_pb2.WatchChainResponse(event=event_to_pb(event))
                last = event.seq
            if batch:
                continue
            if await asyncio.to_thread(self.store.chain_seq, owner, chain_id) is None:
                # The log went with the chain; say so once and end the stream.
                deleted = chain_pb2.ChainEvent(
                    seq=last + 1, chain_id=chain_id, kind=chain_pb2.EVENT_KIND_CHAIN_DELETED
                )
                deleted.create_time.GetCurrentTime()
                yield chain_pb2.WatchChainResponse(event=deleted)
                return
            await self.bell.wait(chain_id, wake, self.settings.watch_poll_s)


__all__ = ["ChainServicer", "EventKind", "USER_METADATA_KEY", "caller"]
