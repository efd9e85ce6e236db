"""Blobs as files under one folder."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from sparrow_common.audio import read_chunks
from sparrow_common.errors import InvalidArgument
from sparrow_common.ids import new_id

_INCOMING = ".incoming"


class LocalBlobStore:
    """A BlobStore on a local (or ReadWriteMany-mounted) folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        (self.root / _INCOMING).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents or key.startswith(_INCOMING):
            raise InvalidArgument(f"bad blob key {key!r}")
        return path

    def incoming(self) -> Path:
        return self.root / _INCOMING / new_id()

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def read(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        return read_chunks(self._path(key), offset, length)

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        folder = self._path(prefix.rstrip("/"))
        shutil.rmtree(folder, ignore_errors=True)

    def keys(self) -> Iterator[tuple[str, float]]:
        for path in self.root.rglob("*"):
            if path.is_file() and _INCOMING not in path.relative_to(self.root).parts:
                yield path.relative_to(self.root).as_posix(), path.stat().st_mtime

    def clear_incoming(self, older_than_s: float = 0.0) -> None:
        """Remove uploads a crash left half-received."""
        cutoff = time.time() - older_than_s
        for path in (self.root / _INCOMING).iterdir():
            if path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
