"""Blobs as files under one folder.

Uploads are received under `.incoming/<instance>/`, one folder per running
chain service, each holding an exclusive lock (flock) on its `.lock` file for as
long as the process lives. At start-up a service removes every instance folder
whose lock it can take: a crash's half-received files go at the next start,
however young, while the uploads a live replica on the same volume is receiving
stay.

Every write goes through `faults.storage_faults`: a full or unwritable folder
is a domain error in words, never the OS's message with our paths. Reads open
the file before they return, so a blob that is gone is NotFound before a
caller has sent anything of it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from sparrow_common.audio import read_chunks
from sparrow_common.errors import InvalidArgument, NotFound
from sparrow_common.ids import new_id

from sparrow_chain.blobs.faults import storage_error, storage_faults

_INCOMING = ".incoming"
_LOCK = ".lock"
_STARTING_S = 60.0


class LocalBlobStore:
    """A BlobStore on a local (or ReadWriteMany-mounted) folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self._mine = self.root / _INCOMING / new_id()
        self._mine.mkdir(parents=True)
        # Held until the process ends (or close()); the OS lets go of it on a crash.
        self._lock = os.open(self._mine / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def close(self) -> None:
        """Let go of this instance's uploads folder (the next start removes it)."""
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents or key.startswith(_INCOMING):
            raise InvalidArgument(f"bad blob key {key!r}")
        return path

    def incoming(self) -> Path:
        return self._mine / new_id()

    def receive(self) -> IncomingFile:
        return IncomingFile(self.incoming())

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        with storage_faults():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

    def read(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        chunks = read_chunks(self._path(key), offset, length)
        try:
            first = next(chunks, None)  # opens the file: one that is gone fails here, not mid-answer
        except FileNotFoundError:
            raise NotFound("the audio file is gone from the server's storage") from None
        except OSError as error:
            raise storage_error(error) from None
        return _resumed(first, chunks)

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
        """Remove uploads a crash left half-received: every other instance's
        folder whose lock is free, and loose files (an older layout's) older
        than `older_than_s`."""
        cutoff = time.time() - older_than_s
        for path in (self.root / _INCOMING).iterdir():
            if path == self._mine:
                continue
            if path.is_dir():
                if _abandoned(path):
                    shutil.rmtree(path, ignore_errors=True)
            elif path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)


class IncomingFile:
    """A file being received into this instance's uploads folder, written
    unbuffered so that a full disk says so at the write that found it (not at
    a later flush), as StorageFull or StorageUnavailable."""

    def __init__(self, path: Path):
        self.name = str(path)
        self.path = path
        with storage_faults():
            self._file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        with storage_faults():
            while view:
                view = view[self._file.write(view):]

    def close(self) -> None:
        with storage_faults():
            self._file.close()

    def __enter__(self) -> IncomingFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _resumed(first: bytes | None, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`first`, then the rest of `chunks`; closes them at the end or when the caller stops."""
    with closing(chunks):
        if first is not None:
            yield first
        yield from chunks


def _abandoned(folder: Path) -> bool:
    """Whether no live process holds `folder`'s lock."""
    try:
        lock = os.open(folder / _LOCK, os.O_RDWR)
    except FileNotFoundError:
        # Not locked yet (an instance between making its folder and locking
        # it), or never: abandoned once it is older than that moment could be.
        return folder.stat().st_mtime < time.time() - _STARTING_S
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(lock)
