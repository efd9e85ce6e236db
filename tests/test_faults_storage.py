"""What a musician gets when the audio's storage fails, through the real
services: a file gone answers 404 in words before any header of the file; an
upload to storage that can't be written is 503, to storage that is full 507,
each with Retry-After; a take that can't be stored ends in error in words,
never with the server's paths or the OS's errno."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from sparrow_common.testing.clips import make_clip


def upload(client, seconds: float = 2.0):
    return client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=seconds))})


def speaks_to_a_musician(text: str, stack) -> None:
    assert str(stack.root) not in text and ".incoming" not in text
    assert "errno" not in text.lower() and "No space left" not in text


@pytest.mark.parametrize("byte_range", [None, "bytes=100-"])
def test_audio_whose_file_is_gone_is_404_in_words(stack, byte_range):
    with stack.client() as client:
        root = upload(client).json()["root"]
        (stored,) = stack.blob_dir.glob(f"*/{root['id']}.*")
        stored.unlink()
        headers = {"Range": byte_range} if byte_range else {}
        reply = client.get(root["audio_url"], headers=headers)
    assert reply.status_code == 404, (reply.status_code, reply.headers)
    assert "gone" in reply.json()["detail"]
    speaks_to_a_musician(reply.text, stack)


def uploads_folder(stack) -> Path:
    """The folder the stack's chain service receives uploads and takes into."""
    (mine,) = [p for p in (stack.blob_dir / ".incoming").iterdir() if p.is_dir() and (p / ".lock").exists()]
    return mine


# These break the quiet stack's storage for a second and mend it in a finally:
# its modules leave it idle, and tests run one at a time, so no one else is
# storing anything meanwhile (a stack of their own cost 20 s).


@contextmanager
def unwritable(stack):
    """Storage that can't be written: a plain file where the chain service
    receives uploads (as root, no mode bit would stop a write)."""
    mine = uploads_folder(stack)
    kept = mine.with_name(mine.name + ".kept")
    mine.rename(kept)
    try:
        mine.write_bytes(b"")
        yield
    finally:
        mine.unlink(missing_ok=True)
        kept.rename(mine)


@contextmanager
def full(stack):
    """Storage with no room left: a tiny tmpfs mounted where the chain service
    receives uploads, written full (skips where this machine refuses mounts)."""
    mine = uploads_folder(stack)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mine)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"can't mount a tmpfs to fill here ({mounted.stderr.decode().strip()}); test_blobs.py checks a full disk's words")
    try:
        with open(mine / "filler", "wb", buffering=0) as f, pytest.raises(OSError):
            while True:
                f.write(b"\0" * 65536)
        yield
    finally:
        subprocess.run(["umount", "-l", str(mine)], check=True)


def refused_and_take_failed(stack, broken) -> tuple:
    """An upload, and a take of a chain uploaded before, while `broken` holds:
    the upload's reply and the take as it ended."""
    with stack.client() as client:
        root = upload(client).json()["root"]
        with broken:
            refused = upload(client)
            node = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 2}).json()
            failed = stack.wait_for(node["id"], timeout=120)
        assert upload(client).status_code == 201  # mended: uploads work again
    return refused, failed


def test_storage_that_cannot_be_written_is_503_and_a_take_errors_in_words(quiet_stack):
    refused, failed = refused_and_take_failed(quiet_stack, unwritable(quiet_stack))
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert "can't store audio" in refused.json()["detail"]
    speaks_to_a_musician(refused.text, quiet_stack)
    assert failed["status"] == "error"
    assert "can't store audio" in failed["error_msg"]
    speaks_to_a_musician(failed["error_msg"], quiet_stack)


def test_storage_that_is_full_is_507_and_a_take_errors_in_words(quiet_stack):
    refused, failed = refused_and_take_failed(quiet_stack, full(quiet_stack))
    assert refused.status_code == 507, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert "full" in refused.json()["detail"]
    speaks_to_a_musician(refused.text, quiet_stack)
    assert failed["status"] == "error"
    assert "full" in failed["error_msg"]
    speaks_to_a_musician(failed["error_msg"], quiet_stack)
