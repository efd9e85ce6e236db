"""Analyses take turns across users, through the real services: one user's
burst of uploads does not hold another's one upload behind all of it, and the
node JSON says which analyses are still waiting their turn."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sparrow_common.audio import encode_wav
from sparrow_common.testing.songs import song

RATE = 22050
BURST = 14


def clip(seed: int, bars: int) -> bytes:
    return encode_wav(song(120.0, 4, "A minor", bars=bars, sample_rate=RATE, seed=seed)[None], RATE)


def upload(client, data: bytes) -> str:
    """A new chain of `data`: its root's id."""
    answer = client.post("/api/chains", files={"file": ("take.wav", data)})
    assert answer.status_code == 201, answer.text
    return answer.json()["root"]["id"]


def analysis_of(client, node_id: str) -> str:
    return (client.get(f"/api/nodes/{node_id}").json().get("analysis") or {}).get("status")


def test_a_burst_of_one_users_uploads_holds_anothers_upload_behind_one_of_theirs(hearing):
    with hearing.client("erin") as erin, hearing.client("dave") as dave:
        long_clip = clip(seed=7, bars=8)  # 16 s: each takes the analysis worker a while
        with ThreadPoolExecutor(4) as pool:
            burst = list(pool.map(lambda _: upload(erin, long_clip), range(BURST)))
        mine = upload(dave, clip(seed=8, bars=4))
        waiting_then = [n for n in burst if analysis_of(erin, n) == "pending"]

        deadline = time.monotonic() + 120
        while analysis_of(dave, mine) not in ("ready", "error"):
            assert time.monotonic() < deadline, "dave's upload was never heard"
            time.sleep(0.1)
        assert analysis_of(dave, mine) == "ready"
        still = {n: analysis_of(erin, n) for n in burst}
        # None is lost, and the stack is left idle for the modules after.
        while any(analysis_of(erin, n) not in ("ready", "error") for n in burst):
            assert time.monotonic() < deadline + 120, "erin's uploads were never all heard"
            time.sleep(0.2)
        assert {analysis_of(erin, n) for n in burst} == {"ready"}

    # Claimed oldest first, dave's would have been claimed only once every one
    # of erin's waiting when it came was (none would still wait). In turns it
    # was claimed at the first free slot; the node JSON shows erin's later ones
    # still waiting their turn (a few more were claimed while it was heard: the
    # dispatcher runs four at once, the analysis worker two).
    waiting_now = [n for n in waiting_then if still[n] == "pending"]
    assert len(waiting_now) >= 3, (len(waiting_then), still)
