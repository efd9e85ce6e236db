"""Where audio files live: a small interface and a local-folder adapter."""

from sparrow_chain.blobs.local import LocalBlobStore
from sparrow_chain.blobs.storage import BlobStore, store

__all__ = ["BlobStore", "LocalBlobStore", "store"]
