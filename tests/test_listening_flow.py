"""Sparrow listens, through the real services: the chain service asks the
analysis worker about every clip whose audio it stores, and the tempo, bars,
key and loudness of the root, and every take's seam report, reach REST and the
event stream."""

from __future__ import annotations

import time

import pytest

from sparrow_common.audio import encode_wav
from sparrow_common.testing.songs import song
from sparrow_common.testing.sse import read_events

RATE = 44100


def analysed(client, node_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        node = client.get(f"/api/nodes/{node_id}").json()
        analysis = node.get("analysis") or {}
        if analysis.get("status") in ("ready", "error"):
            return node
        assert time.monotonic() < deadline, f"node {node_id} was never analysed: {analysis}"
        time.sleep(0.2)


def test_the_root_and_every_take_are_heard_on_rest_and_the_event_stream(listening):
    with listening.client() as client:
        clip = encode_wav(song(120.0, 4, "A minor", bars=8, sample_rate=RATE, seed=5)[None], RATE)
        chain = client.post("/api/chains", files={"file": ("groove.wav", clip)}).json()
        root = analysed(client, chain["root"]["id"])["analysis"]
        assert root["status"] == "ready", root
        heard = root
        assert heard["tempo_bpm"] == pytest.approx(120.0, rel=0.02) and heard["meter"] == 4
        assert heard["key"] == "A minor" and heard["key_confidence"] > 0.7
        assert len(heard["downbeats_s"]) >= 6 and heard["loudness_lufs"] < 0
        assert root["seam"] is None  # the root continues nothing

        takes = client.post(f"/api/nodes/{chain['root']['id']}/takes", json={"count": 2, "duration_s": 2}).json()
        for take in takes["nodes"]:
            assert listening.wait_for(take["id"])["status"] == "ready"
            seam = analysed(client, take["id"])["analysis"]["seam"]
            # The tiny random model writes noise: what the report says of it is
            # whatever it hears, but every take has one, in range, in words.
            assert 0.0 <= seam["score"] <= 1.0 and seam["notes"] and seam["spectral_jump_db"] >= 0
            assert isinstance(seam["fades_out"], bool) and isinstance(seam["silent_start"], bool)

        # The ranking: best seam first, every take ranked once heard.
        ranking = client.get(f"/api/nodes/{chain['root']['id']}/takes").json()["takes"]
        assert [r["rank"] for r in ranking] == [1, 2]
        scores = [r["node"]["analysis"]["seam"]["score"] for r in ranking]
        assert scores == sorted(scores, reverse=True)
        assert {r["node"]["id"] for r in ranking} == {t["id"] for t in takes["nodes"]}

        # The event stream carried each analysis as it landed.
        heard_on_stream = set()
        wanted = {chain["root"]["id"], *(t["id"] for t in takes["nodes"])}
        with client.stream("GET", f"/api/chains/{chain['id']}/events?after=0") as stream:
            for event in read_events(stream.iter_lines()):
                node = event["data"].get("node") or {}
                if (node.get("analysis") or {}).get("status") == "ready":
                    heard_on_stream.add(node["id"])
                if heard_on_stream >= wanted:
                    break
        assert heard_on_stream == wanted


def test_a_take_aligned_to_bars_starts_its_prompt_on_a_downbeat_and_lasts_whole_bars(listening):
    with listening.client() as client:
        # 120 bpm in 4/4 (a bar is 2 s), the first downbeat 0.3 s in.
        clip = encode_wav(song(120.0, 4, "C major", bars=8, sample_rate=RATE, seed=3, start_s=0.3)[None], RATE)
        chain = client.post("/api/chains", files={"file": ("groove.wav", clip)}).json()
        root_id = chain["root"]["id"]
        # Asked at once: the take waits for the root's analysis to land.
        asked = {"count": 1, "align": "bars", "prompt_duration_s": 3.1, "duration_s": 3.5}
        (take,) = client.post(f"/api/nodes/{root_id}/takes", json=asked).json()["nodes"]
        assert listening.wait_for(take["id"])["status"] == "ready"
        made = client.get(f"/api/nodes/{take['id']}").json()
        root = client.get(f"/api/nodes/{root_id}").json()
        heard = root["analysis"]
        bar = 4 * 60 / heard["tempo_bpm"]
        prompt_starts = root["duration_s"] - made["params"]["prompt_duration_s"]
        assert min(abs(prompt_starts - d) for d in heard["downbeats_s"]) < 0.03, (prompt_starts, heard["downbeats_s"])
        assert made["params"]["duration_s"] / bar == pytest.approx(2, abs=0.01)
        assert made["duration_s"] == pytest.approx(made["params"]["duration_s"], abs=0.05)
        assert made["note"].startswith("on the bar line") and made["params"]["align"] == "bars"


def test_without_a_steady_beat_bars_keep_to_seconds_and_the_node_says_why(listening):
    from sparrow_common.testing.clips import make_clip

    with listening.client() as client:
        chain = client.post("/api/chains", files={"file": ("hum.wav", make_clip("wav", seconds=3.0))}).json()
        asked = {"count": 1, "align": "bars", "prompt_duration_s": 2.0, "duration_s": 1.5}
        (take,) = client.post(f"/api/nodes/{chain['root']['id']}/takes", json=asked).json()["nodes"]
        assert listening.wait_for(take["id"])["status"] == "ready"
        made = client.get(f"/api/nodes/{take['id']}").json()
        assert made["note"] == "kept to seconds: the parent has no steady beat"
        assert (made["params"]["prompt_duration_s"], made["params"]["duration_s"]) == (2.0, 1.5)
