"""The blob store's uploads folder after a crash, with another replica alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from sparrow_chain.blobs.local import LocalBlobStore

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
