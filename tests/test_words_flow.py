"""Start from words, end to end: a chain with no clip (its root the beginning,
a part with no audio), takes from the words alone by the real generation worker
(a tiny random MusicGen), one committed and the spine exported."""

from __future__ import annotations

import io
import wave

from sparrow_common.audio import decode

FRAME_S = 640 / 32000  # one MusicGen frame


def test_a_chain_from_words_is_made_committed_and_exported(stack):
    with stack.client() as client:
        made = client.post(
            "/api/chains", json={"prompt": "warm organ chords, slow", "count": 2, "duration_s": 2, "seed": 7}
        )
        assert made.status_code == 201, made.text
        chain = made.json()
        root, takes = chain["root"], chain["takes"]
        assert chain["title"] == "warm organ chords, slow"  # the prompt's words stand in for a title
        assert root["duration_s"] == 0 and root["note"].startswith("the beginning")
        assert root["analysis"] is None  # nothing to hear
        assert [t["parent_id"] for t in takes] == [root["id"]] * 2
        assert {t["status"] for t in takes} <= {"pending", "generating"}
        # Nothing on the spine to export yet.
        assert client.post(f"/api/chains/{chain['id']}/export", json={"format": "wav"}).status_code == 409

        for take in takes:
            assert stack.wait_for(take["id"])["status"] == "ready"
        heard = [client.get(f"/api/nodes/{t['id']}/audio").content for t in takes]
        for data in heard:
            assert abs(decode(data, 32000, 1).shape[-1] / 32000 - 2.0) <= FRAME_S
        assert heard[0] != heard[1]  # each take its own seed

        assert client.post(f"/api/nodes/{takes[1]['id']}/commit").status_code == 200
        spine = client.get(f"/api/chains/{chain['id']}/spine").json()
        assert [n["id"] for n in spine] == [root["id"], takes[1]["id"]]
        # The next take hears the first: the path has audio now.
        onward = client.post(f"/api/nodes/{takes[1]['id']}/branch", json={"duration_s": 1, "prompt_duration_s": 2})
        assert onward.status_code == 202, onward.text
        assert stack.wait_for(onward.json()["id"])["status"] == "ready"

        exported = client.post(f"/api/chains/{chain['id']}/export", json={"format": "wav", "crossfade_ms": 0})
        assert exported.status_code == 200, exported.text
        with wave.open(io.BytesIO(exported.content)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        assert abs(seconds - 2.0) <= 0.05, seconds  # the take alone: the beginning has no audio


def test_bad_requests_to_start_from_words_are_refused_in_words(stack):
    with stack.client() as client:
        for body, field in (
            ('{"count": 2}', "prompt"),
            ('{"prompt": "   "}', "prompt"),
            ('{"prompt": "drums", "count": 0}', "count"),
            ('{"prompt": "drums", "count": 1000000000000000000000000000000}', "count"),
            ('{"prompt": "drums", "duration_s": 1e400}', "duration_s"),
            ('{"prompt": "drums", "file": "x"}', "file"),
            ('{"prompt": "drums", "title": "%s"}' % ("t" * 201), "title"),
        ):
            reply = client.post("/api/chains", content=body, headers={"content-type": "application/json"})
            assert reply.status_code == 422, (body, reply.text)
            assert any(field in map(str, e["loc"]) for e in reply.json()["detail"]), (body, reply.text)
        broken = client.post("/api/chains", content=b'{"prompt": "dr', headers={"content-type": "application/json"})
        assert broken.status_code == 422
        assert client.post("/api/chains", data={"title": "no file"}).status_code == 422
        # Nothing was made by any of them.
        listed = client.get("/api/chains").json()
        assert not [c for c in listed if c["title"] in ("drums", "no file")]
