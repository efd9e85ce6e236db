"""Generation end to end: chain, generation (a tiny random MusicGen) and gateway
as separate processes."""

from __future__ import annotations

import time

import pytest

from sparrow_common.audio import decode
from sparrow_common.testing.clips import make_clip, silent_flac
from sparrow_common.testing.memory import peak_mib, restart_peak
from sparrow_common.testing.sse import read_events

FRAME_S = 640 / 32000  # one MusicGen frame


@pytest.fixture(scope="module")
def stack(quiet_stack):
    """The stack whose generation worker only this module's takes use while it
    runs: its tests read the worker's rows and queue."""
    return quiet_stack


def upload(client, seconds=3.0):
    reply = client.post("/api/chains", files={"file": ("idea.mp3", make_clip("mp3", seconds=seconds, sample_rate=44100, channels=2))})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_three_takes_progress_on_sse_then_commit_one_and_continue(stack):
    with stack.client() as client:
        chain = upload(client)
        asked = client.post(
            f"/api/nodes/{chain['root']['id']}/takes",
            json={"count": 3, "duration_s": 6, "prompt_duration_s": 2, "prompt": "lofi piano"},
        )
        assert asked.status_code == 202, asked.text
        takes = [n["id"] for n in asked.json()["nodes"]]
        assert len({n["params"]["seed"] for n in asked.json()["nodes"]}) == 3

        history: dict[str, list[tuple[str, float]]] = {t: [] for t in takes}
        with client.stream("GET", f"/api/chains/{chain['id']}/events") as stream:
            for event in read_events(stream.iter_lines()):
                node_id = event["data"]["node_id"]
                if node_id in history and event["data"]["node"]:
                    history[node_id].append((event["data"]["status"], event["data"]["node"]["progress"]))
                if all(h and h[-1][0] in ("ready", "error") for h in history.values()):
                    break
        for states in history.values():
            statuses = [s for s, _ in states]
            assert statuses[0] == "pending" and statuses[-1] == "ready", statuses
            assert statuses.index("generating") < statuses.index("ready")
            progress = [p for s, p in states if s == "generating"]
            assert progress == sorted(progress) and progress[-1] > progress[0], "progress did not rise"

        audio = {}
        for node_id in takes:
            node = client.get(f"/api/nodes/{node_id}").json()
            assert node["audio"]["format"] == "wav" and node["params"]["prompt"] == "lofi piano"
            data = client.get(node["audio_url"]).content
            samples = decode(data, 32000, 1)
            assert abs(samples.shape[-1] / 32000 - 6.0) <= FRAME_S  # only the new audio, as long as asked
            assert abs(node["duration_s"] - 6.0) <= FRAME_S
            audio[node_id] = data
        assert audio[takes[0]] != audio[takes[1]]

        assert client.post(f"/api/nodes/{takes[2]}/commit").status_code == 200
        # The siblings are in the bin now.
        assert [client.get(f"/api/nodes/{t}").json()["binned_at"] is not None for t in takes] == [True, True, False]
        onward = client.post(f"/api/nodes/{takes[2]}/branch", json={"duration_s": 2, "prompt_duration_s": 8})
        assert onward.status_code == 202
        # 8 s of context reach back through the 6 s take into the root.
        assert stack.wait_for(onward.json()["id"])["status"] == "ready"
        assert client.post(f"/api/nodes/{onward.json()['id']}/commit").status_code == 200
        spine = client.get(f"/api/chains/{chain['id']}/spine").json()
        assert [n["id"] for n in spine][1:] == [takes[2], onward.json()["id"]]


def test_the_same_seed_and_parameters_give_identical_audio(stack):
    with stack.client() as client:
        chain = upload(client)
        body = {"seed": 1234, "duration_s": 2, "prompt": "dusty drums", "temperature": 0.9, "top_k": 50}
        first = client.post(f"/api/nodes/{chain['root']['id']}/branch", json=body).json()
        second = client.post(f"/api/nodes/{chain['root']['id']}/branch", json=body).json()
        other = client.post(f"/api/nodes/{chain['root']['id']}/branch", json={**body, "seed": 99}).json()
        for node in (first, second, other):
            assert stack.wait_for(node["id"])["status"] == "ready"
        a, b, c = (client.get(f"/api/nodes/{n['id']}/audio").content for n in (first, second, other))
        assert a == b
        assert a != c


def test_discarding_a_generating_node_stops_the_model(stack):
    with stack.client() as client:
        chain = upload(client)
        node = client.post(f"/api/nodes/{chain['root']['id']}/branch", json={"duration_s": 120}).json()
        stack.wait_for_progress(node["id"])
        # busy counts decoder rows: the take and its unconditional copy. The model
        # steps them while a window is written, none between two windows (the
        # last one decoded, the next one's prompt made), so it is read till then.
        deadline = time.monotonic() + 10
        while True:
            (worker,) = client.get("/api/gpu").json()["generation"]
            assert worker["busy"] == 2
            if worker["rows_in_flight"] == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert worker["rows_in_flight"] == 2
        assert client.delete(f"/api/nodes/{node['id']}").status_code == 200
        deadline = time.monotonic() + 10
        while client.get("/api/gpu").json()["generation"][0]["busy"] != 0:
            assert time.monotonic() < deadline, "the model kept running after its node was discarded"
            time.sleep(0.1)


def test_gpu_capacity_lists_the_worker(stack):
    with stack.client() as client:
        (worker,) = client.get("/api/gpu").json()["generation"]
    assert worker["reachable"] and worker["ready"] and worker["reason"] is None and worker["state"] == "ready"
    assert worker["slots"] == 64 and worker["device"] == "cpu" and worker["model"].endswith("tiny-musicgen")
    assert worker["queued"] == 0 and worker["queue_limit"] >= 1
    # Earlier tests of this module ran takes: the pace of the latest steps is known.
    assert worker["rows_in_flight"] == 0 and worker["steps_per_second"] > 0


def test_absurd_generation_requests_are_refused(stack):
    with stack.client() as client:
        root = upload(client)["root"]
        for body in ({"duration_s": 0}, {"prompt_duration_s": 1000}, {"top_p": 2}, {"temperature": 0}, {"count": 100}):
            reply = client.post(f"/api/nodes/{root['id']}/takes", json=body)
            assert reply.status_code == 422, body


def test_a_melody_for_a_model_that_cannot_take_one_is_refused_in_words(stack):
    with stack.client() as client:
        (worker,) = client.get("/api/gpu").json()["generation"]
        assert worker["supports_melody"] is False
        root = upload(client)["root"]
        melody = {"node_id": root["id"]}
        for path, body in (("takes", {"count": 2, "melody": melody}), ("branch", {"melody": {**melody, "stem": "vocals"}})):
            reply = client.post(f"/api/nodes/{root['id']}/{path}", json=body)
            assert reply.status_code == 422, reply.text
            (error,) = reply.json()["detail"]
            assert "tiny-musicgen" in error["msg"] and "melody checkpoint" in error["msg"]
        assert client.post(f"/api/nodes/{root['id']}/takes", json={"melody": {**melody, "stem": "kazoo"}}).status_code == 422
        assert len(client.get(f"/api/chains/{root['chain_id']}").json()["nodes"]) == 1
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert "melody checkpoint" in schema["BranchRequest"]["properties"]["melody"]["description"]


def test_a_generating_take_says_how_long_it_has_left(stack):
    with stack.client() as client:
        root = upload(client)["root"]
        node = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 20}).json()
        deadline = time.monotonic() + 60
        while not (polled := client.get(f"/api/nodes/{node['id']}").json())["eta_s"]:
            assert polled["status"] in ("pending", "generating") and time.monotonic() < deadline, polled
            time.sleep(0.05)
        assert polled["status"] == "generating" and 0 < polled["eta_s"] < 120
        seen: list[tuple[str, float | None]] = []
        with client.stream("GET", f"/api/chains/{root['chain_id']}/events") as stream:
            for event in read_events(stream.iter_lines()):
                if event["data"]["node_id"] == node["id"] and event["data"]["node"]:
                    seen.append((event["data"]["status"], event["data"]["node"]["eta_s"]))
                    if seen[-1][0] in ("ready", "error"):
                        break
        etas = [eta for status, eta in seen if status == "generating" and eta]
        assert len(etas) >= 3 and etas[-1] < etas[0], seen
        assert seen[-1] == ("ready", None)  # nothing left once it is ready
        assert client.get(f"/api/nodes/{node['id']}").json()["eta_s"] is None


def test_a_take_from_a_long_clip_decodes_only_the_tail_it_hears(stack):
    """A 10-minute root (105 MB decoded): the chain service builds the take's
    context from the root's last seconds, never the whole clip."""
    pid = stack.chain.process.pid
    with stack.client() as client:
        reply = client.post("/api/chains", files={"file": ("long.flac", silent_flac(10 * 60, sample_rate=44100))})
        assert reply.status_code == 201, reply.text
        root = reply.json()["root"]
        before = restart_peak(pid)
        take = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 1, "prompt_duration_s": 2}).json()
        assert stack.wait_for(take["id"])["status"] == "ready"
        grew = peak_mib(pid) - before
        assert grew < 60, f"the chain service's peak memory grew {grew:.0f} MB building a 2 s context"


def test_one_users_long_queue_does_not_hold_anothers_take_behind_it(stack):
    """Ann queues ten takes, then Carol one: claims take turns across users, so
    Carol's is claimed at the next free slot, ahead of Ann's takes still
    waiting when she asked (the chain service runs 4 jobs at once); in arrival
    order it would come after all of them."""
    with stack.client("ann") as ann, stack.client("carol") as carol:
        ann_root = upload(ann, seconds=1.0)["root"]["id"]
        carol_root = upload(carol, seconds=1.0)["root"]["id"]
        body = {"duration_s": 1, "prompt_duration_s": 1}
        anns = [ann.post(f"/api/nodes/{ann_root}/branch", json=body).json()["id"] for _ in range(10)]
        carols = carol.post(f"/api/nodes/{carol_root}/branch", json=body).json()["id"]
        chain_id = ann.get(f"/api/nodes/{ann_root}").json()["chain_id"]
        waiting = [n["id"] for n in ann.get(f"/api/chains/{chain_id}").json()["nodes"] if n["status"] == "pending"]
        assert len(waiting) >= 3, "Ann's takes should still be queued when Carol asks"
        finished = {}
        for node_id, client in [(carols, carol), *((n, ann) for n in anns)]:
            deadline = time.monotonic() + 180
            while (node := client.get(f"/api/nodes/{node_id}").json())["status"] not in ("ready", "error"):
                assert time.monotonic() < deadline, f"{node_id} still {node['status']}"
                time.sleep(0.1)
            assert node["status"] == "ready", node["error_msg"]
            finished[node_id] = node["updated_at"]
        # Ann's first four end together and free four slots at once: Carol's is
        # claimed in that round, with up to three of Ann's beside it, and
        # takes of one round share the model's steps and end in any order. In
        # arrival order Carol's would come a round later, after all six.
        ahead = sum(finished[n] < finished[carols] for n in waiting)
        print(f"{ahead} of Ann's {len(waiting)} takes waiting when Carol asked were made before Carol's one")
        assert ahead <= 3, f"{ahead} of Ann's {len(waiting)} waiting takes were made before Carol's one"
