"""Sparrow listens, through the real services: the chain service asks the
analysis worker about every clip whose audio it stores, and the tempo, bars,
key and loudness of the root, and every take's seam report, reach REST and the
event stream. The musician's word on a part's grid wins everywhere it is used,
and the ranking suggests a best take only when a seam earns it."""

from __future__ import annotations

import io
import time

import av
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


def test_the_root_and_every_take_are_heard_on_rest_and_the_event_stream(hearing):
    with hearing.client() as client:
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
            assert hearing.wait_for(take["id"])["status"] == "ready"
            seam = analysed(client, take["id"])["analysis"]["seam"]
            # The tiny random model writes noise: what the report says of it is
            # whatever it hears, but every take has one, in range, in words.
            assert 0.0 <= seam["score"] <= 1.0 and seam["notes"] and seam["spectral_jump_db"] >= 0
            assert isinstance(seam["fades_out"], bool) and isinstance(seam["silent_start"], bool)

        # The ranking: judged seams best first, those it can't judge after,
        # unranked; the first is suggested as best only when it scores 0.5 or more.
        ranking = client.get(f"/api/nodes/{chain['root']['id']}/takes").json()["takes"]
        seams = [r["node"]["analysis"]["seam"] for r in ranking]
        judged = [s for s in seams if s["unjudged"] is None]
        assert [r["rank"] for r in ranking] == [1, 2][: len(judged)] + [None] * (2 - len(judged))
        assert [s["score"] for s in judged] == sorted((s["score"] for s in judged), reverse=True)
        assert [r["best"] for r in ranking] == [bool(judged) and judged[0]["score"] >= 0.5, False]
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


def test_a_take_aligned_to_bars_starts_its_prompt_on_a_downbeat_and_lasts_whole_bars(hearing):
    with hearing.client() as client:
        # 120 bpm in 4/4 (a bar is 2 s), the first downbeat 0.3 s in.
        clip = encode_wav(song(120.0, 4, "C major", bars=8, sample_rate=RATE, seed=3, start_s=0.3)[None], RATE)
        chain = client.post("/api/chains", files={"file": ("groove.wav", clip)}).json()
        root_id = chain["root"]["id"]
        # Asked at once: the take waits for the root's analysis to land.
        asked = {"count": 1, "align": "bars", "prompt_duration_s": 3.1, "duration_s": 3.5}
        (take,) = client.post(f"/api/nodes/{root_id}/takes", json=asked).json()["nodes"]
        assert hearing.wait_for(take["id"])["status"] == "ready"
        made = client.get(f"/api/nodes/{take['id']}").json()
        root = client.get(f"/api/nodes/{root_id}").json()
        heard = root["analysis"]
        bar = 4 * 60 / heard["tempo_bpm"]
        prompt_starts = root["duration_s"] - made["params"]["prompt_duration_s"]
        assert min(abs(prompt_starts - d) for d in heard["downbeats_s"]) < 0.03, (prompt_starts, heard["downbeats_s"])
        assert made["params"]["duration_s"] / bar == pytest.approx(2, abs=0.01)
        assert made["duration_s"] == pytest.approx(made["params"]["duration_s"], abs=0.05)
        assert made["note"].startswith("on the bar line") and made["params"]["align"] == "bars"


def test_without_a_steady_beat_bars_keep_to_seconds_and_the_node_says_why(hearing):
    from sparrow_common.testing.clips import make_clip

    with hearing.client() as client:
        chain = client.post("/api/chains", files={"file": ("hum.wav", make_clip("wav", seconds=3.0))}).json()
        # Shorter than the prompt a take hears by default: kept, and the root says so.
        assert chain["root"]["note"] == "a 3.0 s clip: takes will hear all of it, less than the 5 s they usually hear"
        asked = {"count": 1, "align": "bars", "prompt_duration_s": 2.0, "duration_s": 1.5}
        (take,) = client.post(f"/api/nodes/{chain['root']['id']}/takes", json=asked).json()["nodes"]
        assert hearing.wait_for(take["id"])["status"] == "ready"
        made = client.get(f"/api/nodes/{take['id']}").json()
        assert made["note"] == "kept to seconds: the parent has no steady beat"
        assert (made["params"]["prompt_duration_s"], made["params"]["duration_s"]) == (2.0, 1.5)


def test_the_musicians_grid_wins_everywhere_survives_a_reload_and_is_undone(hearing):
    with hearing.client() as client:
        # Heard: 120 bpm in 4/4 in C major, the first downbeat 0.3 s in (16 s long).
        clip = encode_wav(song(120.0, 4, "C major", bars=8, sample_rate=RATE, seed=3, start_s=0.3)[None], RATE)
        chain = client.post("/api/chains", files={"file": ("groove.wav", clip)}).json()
        chain_id, root_id = chain["id"], chain["root"]["id"]
        root = analysed(client, root_id)
        # Until the musician speaks, the grid is what was heard (however well: that is the worker's to get right).
        heard = root["analysis"]
        assert root["grid"]["tempo_bpm"] == pytest.approx(heard["tempo_bpm"], abs=1e-3) and root["grid"]["corrected"] == []
        assert root["grid_correction"] is None and root["grid"]["downbeats_s"] == heard["downbeats_s"]
        url = f"/api/nodes/{root_id}/grid"

        # What can't be a grid is refused, naming the field, and changes nothing.
        for body, field in (
            ('{"tempo_bpm": 301}', "tempo_bpm"), ('{"tempo_bpm": 1' + "0" * 400 + "}", "tempo_bpm"),
            ('{"tempo_bpm": NaN}', "tempo_bpm"), ('{"time_signature": "5/4"}', "time_signature"),
            ('{"key": "H major"}', "key"), ('{"bpm": 100}', "bpm"), ('{"bar_one_s": -1}', "bar_one_s"),
        ):
            refused = client.put(url, content=body, headers={"Content-Type": "application/json"})
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == field, refused.text
        past_the_end = client.put(url, json={"bar_one_s": root["duration_s"] + 1})
        assert past_the_end.status_code == 422 and past_the_end.json()["detail"][0]["loc"] == ["body", "bar_one_s"]
        assert past_the_end.json()["detail"][0]["msg"].startswith("bar_one_s must be within the part: 0 to ")
        assert client.get(f"/api/chains/{chain_id}").json()["history"]["undo"] is None

        # The musician's word: 100 bpm in 3/4 from 0.5 s (a bar is 1.8 s), in A minor.
        said = {"tempo_bpm": 100, "time_signature": "3/4", "bar_one_s": 0.5, "key": "A minor"}
        put = client.put(url, json=said)
        assert put.status_code == 200, put.text
        grid = put.json()["node"]["grid"]
        assert (grid["tempo_bpm"], grid["meter"], grid["time_signature"], grid["key"]) == (100, 3, "3/4", "A minor")
        assert grid["corrected"] == ["tempo", "time_signature", "bar_one", "key"]
        assert grid["downbeats_s"][:3] == pytest.approx([0.5, 2.3, 4.1])
        assert put.json()["history"]["undo"] == {"kind": "regrid", "node_id": root_id} and put.json()["history"]["redo"] is None
        assert put.json()["node"]["analysis"]["tempo_bpm"] == root["analysis"]["tempo_bpm"]  # what was heard stays

        # A reload reads it back, and the event stream carried it.
        reread = client.get(f"/api/chains/{chain_id}").json()
        assert next(n for n in reread["nodes"] if n["id"] == root_id)["grid_correction"] == {**said, "tempo_bpm": 100.0}
        with client.stream("GET", f"/api/chains/{chain_id}/events?after=0") as stream:
            for event in read_events(stream.iter_lines()):
                node = event["data"].get("node") or {}
                if node.get("id") == root_id and node.get("grid_correction"):
                    assert event["data"]["kind"] == "node.updated" and node["grid"]["tempo_bpm"] == 100
                    break

        # align: bars cuts on the corrected bars.
        asked = {"count": 1, "align": "bars", "prompt_duration_s": 3.1, "duration_s": 3.5}
        (take,) = client.post(f"/api/nodes/{root_id}/takes", json=asked).json()["nodes"]
        assert hearing.wait_for(take["id"])["status"] == "ready"
        made = client.get(f"/api/nodes/{take['id']}").json()
        prompt_starts = root["duration_s"] - made["params"]["prompt_duration_s"]
        assert min(abs(prompt_starts - d) for d in grid["downbeats_s"]) < 0.01, (prompt_starts, grid["downbeats_s"])
        assert made["params"]["duration_s"] == pytest.approx(2 * 1.8, abs=0.01)
        assert "2 bars of 3/4 at 100.0 bpm" in made["note"]

        # The export's marker names the part with its grid.
        exported = client.post(f"/api/chains/{chain_id}/export", json={"format": "flac"})
        with av.open(io.BytesIO(exported.content)) as container:
            assert container.chapters()[0]["metadata"]["title"] == "groove · 100 bpm 3/4 · A minor"

        # Undo puts back what was heard; redo the musician's word.
        undone = client.post(f"/api/chains/{chain_id}/undo").json()
        assert undone["move"] == {"kind": "regrid", "node_id": root_id}
        back = client.get(f"/api/nodes/{root_id}").json()
        assert back["grid_correction"] is None and back["grid"]["tempo_bpm"] == root["grid"]["tempo_bpm"]
        assert client.post(f"/api/chains/{chain_id}/redo").json()["history"]["redo"] is None
        assert client.get(f"/api/nodes/{root_id}").json()["grid"]["key"] == "A minor"
        # The whole correction each time: what is left out goes back to as heard.
        only_key = client.put(url, json={"key": "A minor"}).json()["node"]["grid"]
        assert only_key["corrected"] == ["key"] and only_key["meter"] == root["grid"]["meter"]

        # The take was heard again against the new grid: its seam is back.
        assert analysed(client, take["id"])["analysis"]["seam"] is not None

        # An empty correction is all as heard.
        cleared = client.put(f"/api/nodes/{take['id']}/grid", json={})
        assert cleared.status_code == 200 and cleared.json()["node"]["grid_correction"] is None

        # A clip shorter than a second can't start a chain.
        from sparrow_common.testing.clips import make_clip

        blip = client.post("/api/chains", files={"file": ("blip.wav", make_clip("wav", seconds=0.5))})
        assert blip.status_code == 415 and "0.50 s long" in blip.json()["detail"] and "1 s" in blip.json()["detail"]
    # Another's part is not found.
    with hearing.client("carol") as carol:
        assert carol.put(url, json={"tempo_bpm": 90}).status_code == 404
