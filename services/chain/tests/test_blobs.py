"""The blob store's uploads folder after a crash, with another replica alive;
what a full or unwritable folder, and a file gone, answer."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparrow_chain.blobs.local import IncomingFile, LocalBlobStore
from sparrow_common.errors import NotFound, StorageFull, StorageUnavailable

RECEIVER = textwrap.dedent(
    """
    import sys, time
    from sparrow_chain.blobs.local import LocalBlobStore
    path = LocalBlobStore(sys.argv[1]).incoming()
    path.write_bytes(b"half an upload")
    print(path, flush=True)
    time.sleep(600)
    """
)


def receiving(root) -> tuple[subprocess.Popen, str]:
    """A chain service's blob store, in its own process, halfway through an upload."""
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(root)], stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def test_a_crashed_upload_goes_at_the_next_start_and_a_live_replicas_stays(tmp_path):
    crashed, crashed_upload = receiving(tmp_path)
    alive, alive_upload = receiving(tmp_path)
    try:
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait()
        # Seconds old, not the old 10 minutes: the crash is known from its lock, not its age.
        LocalBlobStore(tmp_path).clear_incoming(older_than_s=600)
        assert not os.path.exists(crashed_upload)
        assert os.path.exists(alive_upload)
    finally:
        alive.kill()
        alive.wait()
    LocalBlobStore(tmp_path).clear_incoming(older_than_s=600)
    assert not os.path.exists(alive_upload)


# -- faults: what a full or unwritable folder, and a file gone, answer ----------

def speaks_to_a_musician(error: Exception, root) -> None:
    """The message names no path of the server's and no errno."""
    assert str(root) not in str(error) and "/" not in str(error)
    assert "errno" not in str(error).lower() and "No space left" not in str(error)


def test_a_full_disk_while_receiving_is_storage_full_in_words(tmp_path):
    # /dev/full answers every write with ENOSPC, as a full disk does.
    incoming = IncomingFile(Path("/dev/full"))
    with pytest.raises(StorageFull) as raised:
        incoming.write(b"x" * 1024)
    speaks_to_a_musician(raised.value, "/dev/full")
    assert "full" in str(raised.value)


def test_a_quota_met_while_storing_is_storage_full(tmp_path, monkeypatch):
    blobs = LocalBlobStore(tmp_path)
    received = blobs.receive()
    received.write(b"audio")
    received.close()

    def over_quota(*args):
        raise OSError(errno.EDQUOT, "Disk quota exceeded", str(tmp_path / "chain"))

    monkeypatch.setattr(os, "replace", over_quota)
    with pytest.raises(StorageFull) as raised:
        blobs.put("chain/node.wav", received.path)
    speaks_to_a_musician(raised.value, tmp_path)


def test_an_uploads_folder_that_cannot_be_written_is_storage_unavailable(tmp_path):
    blobs = LocalBlobStore(tmp_path)
    # As root no mode bit stops a write, so a file stands where the folder was.
    mine = blobs.incoming().parent
    for path in mine.iterdir():
        path.unlink()
    mine.rmdir()
    mine.write_bytes(b"")
    with pytest.raises(StorageUnavailable) as raised:
        blobs.receive()
    speaks_to_a_musician(raised.value, tmp_path)


def test_a_blob_folder_that_cannot_be_made_is_storage_unavailable(tmp_path):
    blobs = LocalBlobStore(tmp_path)
    received = blobs.receive()
    received.close()
    (tmp_path / "chain").write_bytes(b"")  # where the chain's folder must go
    with pytest.raises(StorageUnavailable) as raised:
        blobs.put("chain/node.wav", received.path)
    speaks_to_a_musician(raised.value, tmp_path)


def test_reading_a_blob_that_is_gone_fails_before_any_chunk(tmp_path):
    blobs = LocalBlobStore(tmp_path)
    (tmp_path / "chain").mkdir()
    (tmp_path / "chain" / "node.wav").write_bytes(b"abcdef")
    assert b"".join(blobs.read("chain/node.wav", 2, 3)) == b"cde"
    (tmp_path / "chain" / "node.wav").unlink()
    with pytest.raises(NotFound) as raised:
        blobs.read("chain/node.wav")  # no chunk asked for yet
    speaks_to_a_musician(raised.value, tmp_path)
