"""Asking for a node's stems: a model the chain offers, its audio's hash
(computed once, then remembered on the node), and the set, cached or on its way
(a stems job queued); and waiting for a whole spine's. All but `spine_stems`
block: run them off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

from sparrow_chain.bell import EventBell
from sparrow_chain.blobs import BlobStore
from sparrow_chain.config import Settings
from sparrow_chain.domain import Node, StemSet, StemsStatus
from sparrow_chain.store import StemStore
from sparrow_common.errors import Conflict, InvalidArgument


def stems_model(settings: Settings, asked: str) -> str:
    """The model `asked` for ("" for the default, the first offered); a model
    the chain does not offer is InvalidArgument naming those it does."""
    offered = settings.stems_model_ids
    if not asked:
        return offered[0]
    if asked not in offered:
        raise InvalidArgument(f"the stems models offered are {', '.join(offered)}; '{asked[:64]}' is not one")
    return asked


def content_hash(stems: StemStore, blobs: BlobStore, node: Node) -> str:
    """The SHA-256 of the node's audio, computed once and remembered."""
    if node.audio is None:
        raise Conflict(f"node {node.id} has no audio yet (it is {node.status.value})")
    stored = stems.hash_of(node.id)
    if stored:
        return stored
    hashed = hashlib.sha256()
    for chunk in blobs.read(node.audio.key):
        hashed.update(chunk)
    digest = hashed.hexdigest()
    stems.remember_hash(node.id, digest)
    return digest


def ask(stems: StemStore, blobs: BlobStore, node: Node, model: str) -> StemSet:
    """The node's stems by `model`: the cached set, or a new one on its way."""
    return stems.request(node, content_hash(stems, blobs, node), model)


async def spine_stems(
    stems: StemStore, blobs: BlobStore, bell: EventBell, spine: list[Node], model: str, poll_s: float,
    on_asked: Callable[[str], None],
) -> AsyncIterator[tuple[int, list[StemSet] | None]]:
    """The stems by `model` of every part of the spine: asks for those missing
    (a set that failed before is tried again), then yields (parts ready, None)
    each time something changes while they are made, and (parts, sets) once all
    are ready. A set that fails meanwhile is a Conflict naming its part."""
    chain_id = spine[0].chain_id
    first = True
    while True:
        wake = bell.arm(chain_id)
        if first:
            sets = [await asyncio.to_thread(ask, stems, blobs, node, model) for node in spine]
            on_asked(chain_id)
            first = False
        else:
            hashes = [await asyncio.to_thread(stems.hash_of, node.id) for node in spine]
            sets = [await asyncio.to_thread(stems.get, content_hash, model) for content_hash in hashes]
        for index, stem_set in enumerate(sets):
            if stem_set.status is StemsStatus.ERROR:
                raise Conflict(f"the {model} stems of part {index + 1} could not be made: {stem_set.error_message}")
        ready = sum(s.status is StemsStatus.READY for s in sets)
        if ready == len(sets):
            yield ready, sets
            return
        yield ready, None
        await bell.wait(chain_id, wake, poll_s)
