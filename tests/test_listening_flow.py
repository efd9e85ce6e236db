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
        heard = root["clip"]
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
