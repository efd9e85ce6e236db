"""What every worker service (generation, stems, analysis) is to the chain:
a long-lived channel and a stub, and its replies read into one shape
(`queued`, `progress`, `chunk`, `done` are named alike in every protocol).
What each kind sends and reads is its own (kinds/)."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparrow_common.channels import open_channel


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    eta_s: float | None


@dataclass(frozen=True)
class Chunk:
    # Which file it belongs to: a take's index, or a stem's name.
    key: Any
    data: bytes


@dataclass(frozen=True)
class Done:
    # Every file the worker sent: the takes' indexes, or the stems' names.
    keys: list
    # What the worker answered besides files (an analysis), as plain data.
    result: Any = None


def progress_of(progress) -> Progress:
    """A worker's `progress` reply (alike in every protocol)."""
    return Progress(progress.step, max(progress.total, 1), progress.eta_s or None)


class Worker:
    """One worker service: its long-lived channel and stub."""

    def __init__(self, service: str, address: str, stub_class):
        self.service = service
        self.address = address
        self.channel = open_channel(address)
        self.stub = stub_class(self.channel)

    async def close(self) -> None:
        await self.channel.close()


class Received:
    """What a worker streams back, one file per take or stem, written to the
    blob store's incoming folder as the chunks arrive (never held whole in
    memory); files not moved into the store by the end are deleted."""

    def __init__(self, blobs):
        self.blobs = blobs
        self._files: dict = {}

    def write(self, key, data: bytes) -> None:
        if key not in self._files:
            self._files[key] = self.blobs.receive()  # closed in path() or __exit__
        self._files[key].write(data)

    def keys(self):
        return self._files.keys()

    def path(self, key) -> Path:
        """The finished file of `key` (closed for writing)."""
        self._files[key].close()
        return Path(self._files[key].name)

    def __enter__(self) -> Received:
        return self

    def __exit__(self, *exc) -> None:
        for file in self._files.values():
            file.close()
            # As for an upload: a failed removal must not hide how the job ended.
            with suppress(OSError):
                Path(file.name).unlink(missing_ok=True)
