"""The interface every blob backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from sparrow_common.audio import AudioLimits, encode_wav, probe

from sparrow_chain.blobs.faults import storage_faults
from sparrow_chain.domain import StoredAudio


class Incoming(Protocol):
    """A file being received before it becomes a blob; a full or unwritable
    store raises StorageFull or StorageUnavailable from any of these."""

    path: Path

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Immutable audio files by key ("<chain_id>/<node_id>.<ext>")."""

    def incoming(self) -> Path:
        """A fresh path to receive an upload into before it becomes a blob."""

    def receive(self) -> Incoming:
        """A fresh file in the incoming folder, open for writing."""

    def put(self, key: str, source: Path) -> None:
        """Move a received file in place under `key`, atomically (StorageFull or
        StorageUnavailable when the store can't take it)."""

    def read(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        """The blob's bytes from `offset`, `length` of them (0: to the end), in
        chunks. The file is opened before this returns: NotFound when it is gone."""

    def size(self, key: str) -> int:
        """The blob's size in bytes."""

    def delete(self, key: str) -> None:
        """Remove one blob; a missing one is not an error."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob whose key starts with `prefix` ("<chain_id>/")."""

    def keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time."""


def store(blobs: BlobStore, incoming: Path, key: str, limits: AudioLimits | None = None) -> StoredAudio:
    """A received file (in the incoming folder), checked to be audio within
    `limits` and moved in place under `key`, where `{ext}` stands for the file's
    own extension. Blocking: run it off the event loop."""
    with storage_faults():
        # A file received whole but lost with its folder (swapped for a file under
        # load, when tried) is the storage failing, not the audio: 503, not a 502.
        incoming.stat()
    info = probe(incoming, limits) if limits is not None else probe(incoming)
    key = key.format(ext=info.extension)
    blobs.put(key, incoming)
    return StoredAudio(
        key, info.format, info.content_type, info.sample_rate, info.channels, info.duration_s, info.size_bytes
    )


# The rate of a beginning's (empty) audio: MusicGen's, so the path its takes
# continue is at the rate they are written at.
BEGINNING_RATE = 32000


def store_beginning(blobs: BlobStore, incoming: Incoming, key: str) -> StoredAudio:
    """The audio of a chain started from words: a WAV with no samples, written
    into `incoming` and moved in place under `key` (`{ext}` is "wav").
    Blocking: run it off the event loop."""
    data = encode_wav(np.zeros((1, 0), dtype=np.float32), BEGINNING_RATE)
    with incoming:
        incoming.write(data)
    key = key.format(ext="wav")
    blobs.put(key, incoming.path)
    return StoredAudio(key, "wav", "audio/wav", BEGINNING_RATE, 1, 0.0, len(data))
