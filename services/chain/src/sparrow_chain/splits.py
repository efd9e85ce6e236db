"""Asking for a node's stems: a model the chain offers, its audio's hash
(computed once, then remembered on the node), and the set, cached or on its way
(a stems job queued). Blocking: run it off the event loop."""

from __future__ import annotations

import hashlib

from sparrow_chain.blobs import BlobStore
from sparrow_chain.config import Settings
from sparrow_chain.domain import Node, StemSet
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
