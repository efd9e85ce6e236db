"""What the disk's errors mean to a musician.

The OS says "[Errno 28] No space left on device: '/srv/blobs/.incoming/...'";
a musician can act on "the storage is full, try later" and nothing in the rest,
and the path is the server's business. So every write to the blob folder goes
through `storage_faults`, which logs the OS's words and raises a domain error:
a full disk or quota is StorageFull (507 at the gateway), anything else that
stops a write (read-only, unmounted, a folder gone or replaced) is
StorageUnavailable (503).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sparrow_common.errors import SparrowError, StorageFull, StorageUnavailable

log = logging.getLogger(__name__)

_FULL = {errno.ENOSPC, errno.EDQUOT}

FULL = "the server's storage for audio is full, so nothing new can be stored; try again later"
UNAVAILABLE = "the server can't store audio right now (its storage can't be written to); try again shortly"


def storage_error(error: OSError) -> SparrowError:
    """The domain error for an OSError met while writing a blob (logged with its detail)."""
    log.warning("blob storage: %s", error)
    if error.errno in _FULL:
        return StorageFull(FULL)
    return StorageUnavailable(UNAVAILABLE)


@contextmanager
def storage_faults() -> Iterator[None]:
    """Turn an OSError raised inside into StorageFull or StorageUnavailable."""
    try:
        yield
    except OSError as error:
        raise storage_error(error) from None
