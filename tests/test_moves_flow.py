"""The editing moves end to end, every service its own process: continue from a
point, more like this, the bin, uncommit, undo and redo across a restart of the
chain service, fork and rename."""

from __future__ import annotations

import pytest

from sparrow_common.audio import decode
from sparrow_common.processes import grpc_serving, http_ok
from sparrow_common.testing.clips import make_clip

ROOT_S, TAKE_S, FROM_S = 3.0, 1.0, 1.5


def restart_chain(stack) -> None:
    """Stop the chain service (SIGTERM) and start it again on the same database."""
    assert stack.chain.stop() == 0, stack.chain.log()
    port = stack.chain.env["CHAIN_PORT"]
    stack.chain.start().wait_until(lambda: grpc_serving(f"127.0.0.1:{port}"))
    # The gateway's channel reconnects by itself; ready once it reaches the chain again.
    stack.gateway.wait_until(lambda: http_ok(f"{stack.base_url}/readyz"))


def ready(stack, client, nodes: list[dict]) -> list[dict]:
    return [stack.wait_for(n["id"]) for n in nodes]


def seconds_of(data: bytes) -> float:
    return decode(data, 44100, 2).shape[-1] / 44100


def test_every_move_through_the_services_and_undo_survives_a_restart(stack):
    with stack.client("ann") as client:
        clip = make_clip("wav", seconds=ROOT_S, sample_rate=44100, channels=2)
        chain = client.post("/api/chains", files={"file": ("intro.wav", clip)}).json()
        chain_id, root = chain["id"], chain["root"]["id"]

        # Continue from a point of the root: the takes hear it up to 1.5 s.
        knobs = {"prompt": "tape hiss", "duration_s": TAKE_S, "from_s": FROM_S, "count": 2, "seed": 3}
        asked = client.post(f"/api/nodes/{root}/takes", json=knobs)
        assert asked.status_code == 202, asked.text
        takes = ready(stack, client, asked.json()["nodes"])
        assert [t["from_s"] for t in takes] == [FROM_S, FROM_S] and {t["status"] for t in takes} == {"ready"}
        assert client.post(f"/api/nodes/{takes[0]['id']}/commit").status_code == 200
        # The root now stops at the take's point: on the spine, in its length, in the export.
        assert client.get(f"/api/nodes/{root}").json()["out_s"] == FROM_S
        assert client.get(f"/api/chains/{chain_id}").json()["spine_duration_s"] == pytest.approx(FROM_S + TAKE_S)
        exported = client.post(f"/api/chains/{chain_id}/export", json={"format": "wav"})
        assert exported.status_code == 200 and seconds_of(exported.content) == pytest.approx(FROM_S + TAKE_S, abs=0.03)
        assert [n["id"] for n in client.get(f"/api/chains/{chain_id}/bin").json()["nodes"]] == [takes[1]["id"]]

        # More like this: the same knobs and point, new seeds.
        tip = takes[0]["id"]
        first = client.post(f"/api/nodes/{tip}/takes", json={"duration_s": TAKE_S, "count": 1}).json()["nodes"][0]
        stack.wait_for(first["id"])
        like = client.post(f"/api/nodes/{tip}/takes", json={"like": first["id"], "count": 2}).json()["nodes"]
        assert [n["params"]["duration_s"] for n in like] == [TAKE_S, TAKE_S]
        assert first["params"]["seed"] not in {n["params"]["seed"] for n in like}
        not_a_sibling = client.post(f"/api/nodes/{tip}/takes", json={"like": root})
        assert not_a_sibling.status_code == 422 and "must be a take of node" in not_a_sibling.text
        ready(stack, client, like)

        # The bin: discard, restore, discard again; each answers what undo and redo do next.
        discarded = client.delete(f"/api/nodes/{like[0]['id']}")
        assert discarded.status_code == 200 and discarded.json()["history"]["undo"] == {"kind": "discard", "node_id": like[0]["id"]}
        assert like[0]["id"] in {n["id"] for n in client.get(f"/api/chains/{chain_id}/bin").json()["nodes"]}
        restored = client.post(f"/api/nodes/{like[0]['id']}/restore")
        assert restored.status_code == 200 and restored.json()["binned_at"] is None
        assert restored.json()["history"]["undo"] == {"kind": "restore", "node_id": like[0]["id"]}
        assert restored.json()["history"]["seq"] > discarded.json()["history"]["seq"]
        discarded = client.delete(f"/api/nodes/{like[0]['id']}")
        assert discarded.status_code == 200

        # Rename, and the titles a chain can't have.
        assert client.patch(f"/api/chains/{chain_id}", json={"title": " Night Drive "}).json()["title"] == "Night Drive"
        for title in ("", "x" * 201):
            assert client.patch(f"/api/chains/{chain_id}", json={"title": title}).status_code == 422
        blank = client.patch(f"/api/chains/{chain_id}", json={"title": "   "})
        assert blank.status_code == 422 and "can't be empty" in blank.text

        # Fork at the tip: the spine so far, sharing its audio.
        fork = client.post(f"/api/nodes/{tip}/fork")
        assert fork.status_code == 201, fork.text
        assert fork.json()["title"] == "Night Drive (fork)"
        assert fork.json()["spine_duration_s"] == pytest.approx(FROM_S + TAKE_S)
        off_spine = client.post(f"/api/nodes/{like[1]['id']}/fork")
        assert off_spine.status_code == 409 and "part of the spine" in off_spine.text

        # Bad moves say why and change nothing.
        outside = client.post(f"/api/nodes/{root}/takes", json={"from_s": ROOT_S + 1})
        assert outside.status_code == 422 and "inside the parent's audio" in outside.text
        assert client.post(f"/api/nodes/{root}/uncommit").status_code == 409
        assert client.post(f"/api/nodes/{like[1]['id']}/uncommit").status_code == 409
        assert client.post(f"/api/nodes/{like[1]['id']}/restore").status_code == 409

    # Undo survives a restart of the chain service: the moves are kept with the chain.
    restart_chain(stack)
    with stack.client("ann") as client:
        reread = client.get(f"/api/chains/{chain_id}")
        assert reread.status_code == 200, reread.text
        history = reread.json()["history"]
        assert history == {"undo": {"kind": "discard", "node_id": like[0]["id"]}, "redo": None, "seq": history["seq"]}
        assert history["seq"] >= discarded.json()["history"]["seq"]  # a rename and a fork came after it
        undone = client.post(f"/api/chains/{chain_id}/undo").json()  # the last discard
        assert undone["move"]["kind"] == "discard"
        assert client.get(f"/api/nodes/{like[0]['id']}").json()["binned_at"] is None
        for expected in ("restore", "discard"):  # the restore, then the first discard
            assert client.post(f"/api/chains/{chain_id}/undo").json()["move"]["kind"] == expected
        undone = client.post(f"/api/chains/{chain_id}/undo").json()  # the commit
        assert undone["move"] == {"kind": "commit", "node_id": tip}
        assert client.get(f"/api/nodes/{root}").json()["out_s"] is None
        assert client.get(f"/api/nodes/{takes[1]['id']}").json()["binned_at"] is None  # back from the bin
        assert client.get(f"/api/chains/{chain_id}").json()["spine_duration_s"] == pytest.approx(ROOT_S)
        nothing = client.post(f"/api/chains/{chain_id}/undo")
        assert nothing.status_code == 409 and "Nothing to undo" in nothing.text
        redone = client.post(f"/api/chains/{chain_id}/redo").json()
        assert redone["move"]["kind"] == "commit" and redone["history"]["redo"]["kind"] == "discard"
        assert client.get(f"/api/nodes/{root}").json()["out_s"] == FROM_S

        # Deleting the chain leaves the fork whole: its parts' audio is shared, not copied.
        assert client.delete(f"/api/chains/{chain_id}").status_code == 204
        fork_root = fork.json()["nodes"][0]
        audio = client.get(fork_root["audio_url"])
        assert audio.status_code == 200 and seconds_of(audio.content) == pytest.approx(ROOT_S, abs=0.03)
        assert client.delete(f"/api/chains/{fork.json()['id']}").status_code == 204
