"""Where audio files live: a small interface and a local-folder adapter."""

from sparrow_chain.blobs.local import LocalBlobStore
from sparrow_chain.blobs.storage import BlobStore, Incoming, store, store_beginning

__all__ = ["BlobStore", "Incoming", "LocalBlobStore", "store", "store_beginning"]
