"""Replacing a stretch, end to end through the real services (the tiny random
MusicGen, the analysis worker): takes asked for a stretch of a groove with a
known grid (a loop of drums and chords played by FluidSynth on the GM
soundfont) come back into it on one of its downbeats; once one is committed the
exported WAV is the groove sample for sample outside the stretch and its two
joins, and undo gives back the earlier export byte for byte."""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from sparrow_common.audio import decode, encode_wav
from sparrow_common.testing import pieces
from sparrow_common.testing.clips import smpl_loop

RATE = 32000
BAR_ONE_S, BAR_S = 0.25, 2.0  # 120 bpm in 4/4, its first downbeat a quarter second in


@functools.cache
def _loop() -> np.ndarray:
    return pieces.loop(RATE)[0]


def groove(bars: int) -> np.ndarray:
    """`bars` bars of the plain two-bar loop (kick, snare, hats, A minor then F
    major) played on the GM soundfont's instruments by FluidSynth, after a
    quarter second of silence: bar one at BAR_ONE_S, a bar every BAR_S."""
    loop = _loop()
    repeats = -(-bars // 4)
    played = np.concatenate([np.zeros(int(BAR_ONE_S * RATE), np.float32), np.tile(loop, repeats)])
    return played[: int((BAR_ONE_S + bars * BAR_S) * RATE)]


def heard(client, node_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        node = client.get(f"/api/nodes/{node_id}").json()
        if (node.get("analysis") or {}).get("status") in ("ready", "error"):
            return node
        assert time.monotonic() < deadline, f"node {node_id} was never heard: {node.get('analysis')}"
        time.sleep(0.2)


def test_a_replaced_stretch_rejoins_on_a_downbeat_keeps_the_rest_sample_for_sample_and_undoes_byte_for_byte(hearing):
    played = groove(8)
    with hearing.client() as client:
        chain = client.post("/api/chains", files={"file": ("groove.wav", encode_wav(played[None], RATE))}).json()
        root = heard(client, chain["root"]["id"])
        assert root["grid"]["tempo_bpm"] == pytest.approx(120.0, rel=0.02), root["grid"]
        export = f"/api/chains/{chain['id']}/export"
        before = client.post(export, json={"format": "wav", "crossfade_ms": 0})
        assert before.status_code == 200, before.text

        asked = {"count": 2, "from_s": 4.6, "until_s": 8.1, "prompt": "a fill"}
        takes = client.post(f"/api/nodes/{root['id']}/takes", json=asked)
        assert takes.status_code == 202, takes.text
        for take in takes.json()["nodes"]:
            assert take["until_s"] == 8.1 and take["from_s"] == 4.6
            assert "replaces 4.60 to 8.10 s" in take["note"]
            assert hearing.wait_for(take["id"])["status"] == "ready"
        ranking = client.get(f"/api/nodes/{root['id']}/takes").json()["takes"]
        for ranked in ranking:
            analysis = heard(client, ranked["node"]["id"])["analysis"]
            rejoin = analysis["rejoin"]
            # Back on one of the groove's downbeats within a bar of 8.1 s, crossfaded over a beat.
            assert rejoin["on"] == "downbeat" and not rejoin["unjudged"], rejoin
            bar = (rejoin["at_s"] - BAR_ONE_S) / BAR_S
            assert abs(bar - round(bar)) * BAR_S <= 0.07 and abs(rejoin["at_s"] - 8.1) <= BAR_S + 0.07, rejoin
            assert rejoin["crossfade_s"] == pytest.approx(0.5, abs=0.02) and rejoin["notes"]
        # Ranked by the worse of each take's two joins.
        worse = [min(r["node"]["analysis"]["seam"]["score"], r["node"]["analysis"]["rejoin"]["score"]) for r in ranking if r["rank"]]
        assert worse == sorted(worse, reverse=True)

        take = ranking[0]["node"]
        rejoin = heard(client, take["id"])["analysis"]["rejoin"]
        assert client.post(f"/api/nodes/{take['id']}/commit").status_code == 200
        spine = client.get(f"/api/chains/{chain['id']}/spine").json()
        assert [n["id"] for n in spine[:2]] == [root["id"], take["id"]] and len(spine) == 3
        rest = spine[2]
        assert rest["in_s"] == pytest.approx(rejoin["at_s"]) and spine[0]["out_s"] == 4.6
        after = client.post(export, json={"format": "wav", "crossfade_ms": 0})
        assert after.status_code == 200, after.text

        # As long as the groove, and the groove itself outside the stretch and its joins.
        old, new = decode(before.content, RATE, 1)[0], decode(after.content, RATE, 1)[0]
        assert new.shape == old.shape
        cut, back = int(4.6 * RATE), int(round((rejoin["at_s"] + rejoin["crossfade_s"] / 2) * RATE))
        assert np.array_equal(new[:cut], old[:cut]) and np.array_equal(new[back:], old[back:])
        assert not np.array_equal(new[cut:back], old[cut:back])

        # Undo: the export of before, byte for byte; redo: the replacement again.
        assert client.post(f"/api/chains/{chain['id']}/undo").status_code == 200
        assert client.post(export, json={"format": "wav", "crossfade_ms": 0}).content == before.content
        assert client.post(f"/api/chains/{chain['id']}/redo").status_code == 200
        assert client.post(export, json={"format": "wav", "crossfade_ms": 0}).content == after.content

        # A stretch across parts: from 2 s of the groove, through the take, to 11 s of the rest of the groove.
        across = {"count": 1, "from_s": 2.0, "until_s": 11.0, "until_node_id": rest["id"]}
        (take,) = client.post(f"/api/nodes/{root['id']}/takes", json=across).json()["nodes"]
        assert hearing.wait_for(take["id"])["status"] == "ready"
        rejoin = heard(client, take["id"])["analysis"]["rejoin"]
        bar = (rejoin["at_s"] - BAR_ONE_S) / BAR_S
        assert rejoin["on"] == "downbeat" and abs(bar - round(bar)) * BAR_S <= 0.07, rejoin
        assert client.post(f"/api/nodes/{take['id']}/commit").status_code == 200
        spine = client.get(f"/api/chains/{chain['id']}/spine").json()
        assert [n["id"] for n in spine[:2]] == [root["id"], take["id"]] and len(spine) == 3
        assert spine[2]["in_s"] == pytest.approx(rejoin["at_s"])
        again = decode(client.post(export, json={"format": "wav", "crossfade_ms": 0}).content, RATE, 1)[0]
        cut, back = int(2.0 * RATE), int(round((rejoin["at_s"] + rejoin["crossfade_s"] / 2) * RATE))
        assert again.shape == old.shape
        assert np.array_equal(again[:cut], old[:cut]) and np.array_equal(again[back:], old[back:])
        assert client.post(f"/api/chains/{chain['id']}/undo").status_code == 200
        assert client.post(export, json={"format": "wav", "crossfade_ms": 0}).content == after.content


def test_an_intro_comes_first_and_the_clip_stays_intact_after_it_comes_in(hearing):
    played = groove(4)
    with hearing.client() as client:
        chain = client.post("/api/chains", files={"file": ("groove.wav", encode_wav(played[None], RATE))}).json()
        root = heard(client, chain["root"]["id"])
        export = f"/api/chains/{chain['id']}/export"
        before = client.post(export, json={"format": "wav", "crossfade_ms": 0}).content

        asked = {"count": 1, "place": "before", "duration_s": 4.0, "prompt": "a soft intro"}
        (intro,) = client.post(f"/api/nodes/{root['id']}/takes", json=asked).json()["nodes"]
        assert intro["intro"] and intro["until_s"] == 4.0 and intro["from_s"] == 0.0
        assert hearing.wait_for(intro["id"])["status"] == "ready"
        rejoin = heard(client, intro["id"])["analysis"]["rejoin"]
        assert rejoin, heard(client, intro["id"])["analysis"]["error_msg"]
        # The clip comes in at its first downbeat, 4 s into the intro.
        assert rejoin["at_s"] == pytest.approx(BAR_ONE_S, abs=0.07) and rejoin["on"] == "downbeat", rejoin
        assert client.post(f"/api/nodes/{intro['id']}/commit").status_code == 200
        spine = client.get(f"/api/chains/{chain['id']}/spine").json()
        assert [n["id"] for n in spine[:2]] == [root["id"], intro["id"]] and spine[0]["out_s"] == 0.0
        after = client.post(export, json={"format": "wav", "crossfade_ms": 0})
        assert after.status_code == 200, after.text

        old, new = decode(before, RATE, 1)[0], decode(after.content, RATE, 1)[0]
        # The intro's 4 s, then the clip from its first downbeat: intact past the crossfade.
        came_in = rejoin["at_s"] + rejoin["crossfade_s"] / 2
        assert new.shape[-1] == pytest.approx(int(4.0 * RATE) + old.shape[-1] - int(rejoin["at_s"] * RATE), abs=2)
        clip = old[int(round(came_in * RATE)) :]
        start = int(round((4.0 + rejoin["crossfade_s"] / 2) * RATE))
        assert any(np.array_equal(new[start + k : start + k + clip.shape[-1]], clip) for k in range(-2, 3))

        assert client.post(f"/api/chains/{chain['id']}/undo").status_code == 200
        assert client.post(export, json={"format": "wav", "crossfade_ms": 0}).content == before


def test_a_glued_loop_is_the_stretch_and_a_bar_written_to_close_it(hearing):
    played = groove(6)
    with hearing.client() as client:
        chain = client.post("/api/chains", files={"file": ("groove.wav", encode_wav(played[None], RATE))}).json()
        heard(client, chain["root"]["id"])
        export = f"/api/chains/{chain['id']}/export"
        # Two bars (2.25 s to 6.25 s once snapped) and the bar of glue after them.
        reply = client.post(export, json={"format": "wav", "loop": {"from_s": 2.3, "until_s": 6.1}, "glue": True})
        assert reply.status_code == 200, reply.text
        audio = decode(reply.content, RATE, 1)[0]
        assert abs(audio.shape[-1] / RATE - 3 * BAR_S) <= 0.01
        assert smpl_loop(reply.content) == (0, audio.shape[-1] - 1)
        step = abs(float(audio[0]) - float(audio[-1]))
        assert step <= 2 * float(np.median(np.abs(np.diff(audio)))), step
        # Nothing was stored: the chain holds its root alone.
        assert client.get(f"/api/chains/{chain['id']}").json()["node_count"] == 1
        refused = client.post(export, json={"format": "wav", "glue": True})
        assert refused.status_code == 422 and "loop" in refused.text
