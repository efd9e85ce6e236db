"""The REST flow end to end: the chain service and the gateway as separate processes."""

from __future__ import annotations

import functools
import threading

import pytest

from sparrow_common.testing.clips import make_clip, raw_wav, silent_flac
from sparrow_common.testing.sse import read_events

FORMATS = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "aiff": "audio/aiff",
}


def upload(client, data: bytes, filename: str = "clip.wav", title: str = "My song"):
    return client.post("/api/chains", files={"file": (filename, data)}, data={"title": title})


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_uploads_plays_and_seeks(stack, fmt):
    data = make_clip(fmt, seconds=2.0, channels=2)
    with stack.client() as client:
        created = upload(client, data, filename=f"idea.{fmt}")
        assert created.status_code == 201, created.text
        chain = created.json()
        root = chain["root"]
        assert chain["title"] == "My song" and chain["nodes"][0]["id"] == root["id"]
        assert root["status"] == "ready" and root["committed"] and root["parent_id"] is None
        assert root["audio"]["format"] == fmt and root["audio"]["channels"] == 2
        assert root["duration_s"] == pytest.approx(2.0, abs=0.06)

        whole = client.get(root["audio_url"])
        assert whole.status_code == 200
        assert whole.headers["content-type"] == FORMATS[fmt]
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.content == data

        part = client.get(root["audio_url"], headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
        assert part.content == data[100:1100]
        tail = client.get(root["audio_url"], headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == data[-500:]
        beyond = client.get(root["audio_url"], headers={"Range": f"bytes={len(data) + 10}-"})
        assert beyond.status_code == 416


def test_the_whole_flow_with_events_resumed_by_last_event_id(stack):
    with stack.client() as client:
        chain = upload(client, make_clip("wav", seconds=3.0)).json()
        chain_id, root_id = chain["id"], chain["root"]["id"]
        events_url = f"/api/chains/{chain_id}/events"

        # First connection: read what is there, then hang up.
        seen = []
        with client.stream("GET", events_url) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for event in read_events(stream.iter_lines()):
                seen.append(event)
                break
        assert seen[0]["event"] == "chain.created" and seen[0]["id"] == "1"

        # While nobody listens: a long branch, takes, a commit.
        branch = client.post(f"/api/nodes/{root_id}/branch", json={"prompt": "warm rhodes", "duration_s": 120})
        assert branch.status_code == 202, branch.text
        assert branch.json()["status"] == "pending" and branch.json()["params"]["prompt"] == "warm rhodes"
        assert client.post(f"/api/nodes/{branch.json()['id']}/commit").status_code == 409  # not ready
        assert client.delete(f"/api/nodes/{branch.json()['id']}").status_code == 200  # frees the worker
        takes = client.post(f"/api/nodes/{root_id}/takes", json={"count": 3, "seed": 7, "energy": "high", "duration_s": 2})
        assert takes.status_code == 202, takes.text
        take_ids = [n["id"] for n in takes.json()["nodes"]]
        assert [n["params"]["seed"] for n in takes.json()["nodes"]] == [7, 8, 9]
        for node_id in take_ids:
            assert stack.wait_for(node_id)["status"] == "ready"
        committed = client.post(f"/api/nodes/{take_ids[1]}/commit")
        assert committed.status_code == 200 and committed.json()["committed"]
        # The siblings went to the bin, audio and all, until it is emptied.
        binned = {n["id"] for n in client.get(f"/api/chains/{chain_id}/bin").json()["nodes"]}
        assert binned == {take_ids[0], take_ids[2], branch.json()["id"]}
        assert {n["id"] for n in client.get(f"/api/chains/{chain_id}").json()["nodes"]} == {root_id, take_ids[1]}
        emptied = client.delete(f"/api/chains/{chain_id}/bin").json()
        assert emptied["deleted"] == 3 and emptied["history"]["undo"] == {"kind": "commit", "node_id": take_ids[1]}
        for gone in binned:
            assert client.get(f"/api/nodes/{gone}").status_code == 404
        stored = {p.name.split(".")[0] for p in (stack.blob_dir / chain_id).iterdir()}
        assert stored == {root_id, take_ids[1]}, "an emptied bin left its audio behind"
        spine = client.get(f"/api/chains/{chain_id}/spine").json()
        assert [n["id"] for n in spine] == [root_id, take_ids[1]]

        # Continue from the committed take; discard that continuation.
        onward = client.post(f"/api/nodes/{take_ids[1]}/branch", json={"duration_s": 60})
        assert onward.status_code == 202 and onward.json()["parent_id"] == take_ids[1]
        assert client.delete(f"/api/nodes/{root_id}").status_code == 409
        assert client.delete(f"/api/nodes/{take_ids[1]}").status_code == 409
        assert client.delete(f"/api/nodes/{onward.json()['id']}").status_code == 200

        # Reconnect with the last id seen: everything since, once, in order.
        resumed = []
        with client.stream("GET", events_url, headers={"Last-Event-ID": seen[-1]["id"]}) as stream:
            for event in read_events(stream.iter_lines()):
                resumed.append(event)
                if event["event"] == "node.discarded" and event["data"]["node_id"] == onward.json()["id"]:
                    break
        seqs = [int(e["id"]) for e in seen + resumed]
        assert seqs == list(range(1, len(seqs) + 1)), "an event was lost or repeated"
        kinds = [e["event"] for e in resumed]
        assert kinds.count("node.created") == 5 and kinds.count("node.committed") == 1
        assert kinds.count("node.discarded") == 4
        statuses = [e["data"]["status"] for e in resumed if e["data"]["node_id"] == take_ids[1]]
        assert statuses[0] == "pending" and "generating" in statuses and statuses[-1] == "ready"

        # The whole chain, then gone.
        detail = client.get(f"/api/chains/{chain_id}").json()
        assert {n["id"] for n in detail["nodes"]} == {root_id, take_ids[1]}
        assert detail["spine_duration_s"] == pytest.approx(5.0, abs=0.05)
        assert chain_id in [c["id"] for c in client.get("/api/chains").json()]
        assert client.delete(f"/api/chains/{chain_id}").status_code == 204
        assert client.get(f"/api/chains/{chain_id}").status_code == 404
        assert client.get(chain["root"]["audio_url"]).status_code == 404


def test_two_concurrent_commits_of_siblings_leave_exactly_one(stack):
    with stack.client() as client:
        chain = upload(client, make_clip("wav")).json()
        takes = client.post(f"/api/nodes/{chain['root']['id']}/takes", json={"count": 2, "duration_s": 1}).json()["nodes"]
        for take in takes:
            stack.wait_for(take["id"])
    barrier = threading.Barrier(2)
    codes = {}

    def commit(node_id):
        with stack.client() as own:
            barrier.wait()
            codes[node_id] = own.post(f"/api/nodes/{node_id}/commit").status_code

    threads = [threading.Thread(target=commit, args=(t["id"],)) for t in takes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values())[0] == 200 and sorted(codes.values())[1] in (404, 409)
    with stack.client() as client:
        spine = client.get(f"/api/chains/{chain['id']}/spine").json()
        assert len(spine) == 2 and spine[1]["id"] in codes


@pytest.mark.parametrize(
    "filename, data, status, words",
    [
        ("empty.wav", b"", 415, "empty"),
        ("notes.wav", b"just some notes about the song\n" * 40, 415, "could not be decoded"),
        ("cut.wav", make_clip("wav", seconds=2.0)[:30_000], 415, "truncated"),
        ("song.mp3", make_clip("flac"), 201, ""),  # mislabelled but sound: read by content
    ],
)
def test_bad_uploads_get_a_clear_error(stack, filename, data, status, words):
    with stack.client() as client:
        reply = upload(client, data, filename=filename)
        assert reply.status_code == status, reply.text
        if status == 201:
            assert reply.json()["root"]["audio"]["format"] == "flac"
        else:
            assert words in reply.json()["detail"]


def test_upload_over_the_limit_is_413(stack):
    with stack.client() as client:
        just_over = upload(client, b"\0" * (stack.upload_limit + 10))
        assert just_over.status_code == 413 and "limit" in just_over.json()["detail"]
        far_over = upload(client, b"\0" * (stack.upload_limit * 2))  # refused from Content-Length
        assert far_over.status_code == 413 and "limit" in far_over.json()["detail"]
        assert upload(client, b"").status_code == 415  # the gateway is still fine


def test_bad_requests(stack):
    with stack.client() as client:
        root = upload(client, make_clip("wav")).json()["root"]
        missing = "0b7c6a9e-1f7a-4c55-9d43-5c8e6f0d2a11"
        assert client.get(f"/api/chains/{missing}").status_code == 404
        assert client.get(f"/api/nodes/{missing}").status_code == 404
        assert client.post(f"/api/nodes/{missing}/branch", json={}).status_code == 404
        assert client.get("/api/nodes/not-an-id").status_code == 422
        assert client.post("/api/chains", data={"title": "no file"}).status_code == 422
        for body in ({"duration_s": 100000}, {"cfg_coef": -3}, {"energy": "loud"}, {"colour": "blue"}, {"seed": -1}):
            reply = client.post(f"/api/nodes/{root['id']}/branch", json=body)
            assert reply.status_code == 422, body
        assert client.post(f"/api/nodes/{root['id']}/takes", json={"count": 9}).status_code == 422
        assert client.post(f"/api/nodes/{root['id']}/takes", json={"count": 0}).status_code == 422
        pending = client.post(f"/api/nodes/{root['id']}/branch", json={}).json()
        conflict = client.post(f"/api/nodes/{pending['id']}/branch", json={})
        assert conflict.status_code == 409 and "no audio" in conflict.json()["detail"]
        assert client.get(f"/api/nodes/{pending['id']}/audio").status_code == 404
        bad_resume = client.get(f"/api/chains/{root['chain_id']}/events", headers={"Last-Event-ID": "abc"})
        assert bad_resume.status_code == 422
        assert client.get(f"/api/chains/{missing}/events").status_code == 404
        # Its ten seconds would be made after this module, on the shared stack's worker.
        assert client.delete(f"/api/nodes/{pending['id']}").status_code == 200


def test_event_stream_sends_keep_alive_pings(stack):
    with stack.client() as client:
        chain = upload(client, make_clip("wav")).json()
        with client.stream("GET", f"/api/chains/{chain['id']}/events", params={"after": 1}) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(": ping")  # nothing new after seq 1, so a ping


def test_health_and_docs(stack):
    with stack.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        assert client.get("/docs").status_code == 200
        openapi = client.get("/openapi.json").json()
        schema = openapi["components"]["schemas"]["BranchRequest"]["properties"]
        assert schema["energy"]["enum"] == ["low", "medium", "high"]
        assert schema["duration_s"]["maximum"] == 120
        # /docs' Authorize button: the key in a header, as a bearer token, or the session cookie.
        schemes = openapi["components"]["securitySchemes"]
        assert {(s["type"], s.get("in"), s.get("name"), s.get("scheme")) for s in schemes.values()} == {
            ("apiKey", "header", "X-API-Key", None), ("http", None, None, "bearer"), ("apiKey", "cookie", "sparrow_key", None),
        }
        branch = openapi["paths"]["/api/nodes/{parent_id}/branch"]["post"]
        assert len(branch["security"]) == 3  # any one of them


# -- numbers and bodies past what the code can hold: a 4xx naming the field ---

BEYOND_64_BITS = "9" * 25
BEYOND_INT_PARSING = "9" * 5000  # past Python's 4,300-digit int() limit


@pytest.fixture(scope="module")
def song(stack):
    with stack.client() as client:
        return upload(client, make_clip("wav", seconds=1.0)).json()


@pytest.mark.parametrize(
    "header",
    ["²".encode(), "٣".encode(), BEYOND_64_BITS, BEYOND_INT_PARSING, "-1", "1_000", "1 2"],
    ids=["superscript", "arabic-indic", "beyond-64-bits", "beyond-int-parsing", "negative", "underscores", "spaced"],
)
def test_a_last_event_id_that_is_not_an_event_number_is_422_before_the_stream(stack, song, header):
    with stack.client() as client:
        reply = client.get(f"/api/chains/{song['id']}/events", headers={"Last-Event-ID": header})
        assert reply.status_code == 422, reply.text
        (error,) = reply.json()["detail"]
        assert error["loc"] == ["header", "last-event-id"] and "Last-Event-ID" in error["msg"]


@pytest.mark.parametrize(
    "query, field",
    [
        (f"/api/chains/{{chain}}/events?after={BEYOND_64_BITS}", "after"),
        (f"/api/chains/{{chain}}/events?after={BEYOND_INT_PARSING}", "after"),
        ("/api/chains/{chain}/events?after=٣", "after"),
        (f"/api/chains?limit={BEYOND_INT_PARSING}", "limit"),
    ],
)
def test_query_numbers_past_64_bits_are_422_naming_the_field(stack, song, query, field):
    with stack.client() as client:
        reply = client.get(query.format(chain=song["id"]))
        assert reply.status_code == 422, reply.text
        assert reply.json()["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("token", [BEYOND_64_BITS, "٣", "²", "-5"])
def test_a_page_token_that_no_page_handed_out_is_422(stack, token):
    with stack.client() as client:
        reply = client.get("/api/chains", params={"page_token": token})
        assert reply.status_code == 422, reply.text
        (error,) = reply.json()["detail"]  # the chain service's refusal, in the documented shape
        assert error["loc"] == ["query", "page_token"] and "page_token" in error["msg"]


def test_range_headers_with_any_number_of_digits(stack, song):
    node = song["root"]
    size = node["audio"]["size_bytes"]
    with stack.client() as client:
        url = f"/api/nodes/{node['id']}/audio"
        for past_the_end in (f"bytes={BEYOND_64_BITS}-", f"bytes={BEYOND_INT_PARSING}-"):
            reply = client.get(url, headers={"Range": past_the_end})
            assert reply.status_code == 416 and reply.headers["Content-Range"] == f"bytes */{size}"
        # A suffix longer than the file is the whole file; an end past it is cut to it.
        for whole in (f"bytes=-{BEYOND_INT_PARSING}", f"bytes=0-{BEYOND_INT_PARSING}"):
            reply = client.get(url, headers={"Range": whole})
            assert reply.status_code == 206 and len(reply.content) == size, whole
        # Digits that are not ASCII are not a range we read: the whole file, as the RFC allows.
        reply = client.get(url, headers={"Range": "bytes=٣-".encode()})
        assert reply.status_code == 200 and len(reply.content) == size


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"seed": %s}' % BEYOND_64_BITS, "seed"),
        ('{"seed": %s}' % BEYOND_INT_PARSING, "seed"),
        ('{"top_k": -%s}' % BEYOND_INT_PARSING, "top_k"),
        ('{"duration_s": 1e400}', "duration_s"),
        ('{"prompt": %s}' % BEYOND_INT_PARSING, "prompt"),
    ],
    ids=["seed-beyond-64-bits", "seed-beyond-int-parsing", "negative-beyond-int-parsing", "infinite-float", "number-for-text"],
)
def test_body_numbers_no_field_can_hold_are_422_naming_the_field(stack, song, body, field):
    with stack.client() as client:
        reply = client.post(
            f"/api/nodes/{song['root']['id']}/branch", content=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 422, reply.text
        assert reply.json()["detail"][0]["loc"] == ["body", field]


def test_a_json_body_that_is_not_utf8_is_422_like_truncated_json(stack, song):
    with stack.client() as client:
        url = f"/api/nodes/{song['root']['id']}/branch"
        for body in (b'{"prompt": "\xff\xfe"}', b'{"prompt": "a'):
            reply = client.post(url, content=body, headers={"Content-Type": "application/json"})
            assert reply.status_code == 422, reply.text
            assert reply.json()["detail"][0]["type"] == "json_invalid"
        assert "UTF-8" in client.post(
            url, content=b'{"prompt": "\xff"}', headers={"Content-Type": "application/json"}
        ).json()["detail"][0]["ctx"]["error"]


def test_a_long_file_name_stands_in_for_the_title_cut_to_fit(stack):
    with stack.client() as client:
        reply = client.post("/api/chains", files={"file": ("n" * 250 + ".wav", make_clip("wav", seconds=1.0))})
        assert reply.status_code == 201, reply.text
        assert reply.json()["title"] == "n" * 200
        # A name too long for the form's part headers (4 KB): a 422 that says so.
        reply = client.post("/api/chains", files={"file": ("n" * 5000 + ".wav", make_clip("wav", seconds=1.0))})
        assert reply.status_code == 422 and "file's name" in reply.json()["detail"][0]["msg"]
        # A title the musician typed that is too long is still theirs to shorten.
        assert upload(client, make_clip("wav", seconds=1.0), title="t" * 201).status_code == 422


# -- audio that decodes to far more than its bytes: refused at upload ----------


def flac_without_its_length(data: bytes) -> bytes:
    """The FLAC with its STREAMINFO's total-samples field zeroed ("unknown"),
    so only decoding can tell how long it plays."""
    out = bytearray(data)
    assert out[:4] == b"fLaC"
    out[8 + 13] &= 0xF0
    out[8 + 14 : 8 + 18] = bytes(4)
    return bytes(out)


@functools.cache
def twenty_five_silent_minutes() -> bytes:
    return silent_flac(25 * 60)


@pytest.mark.parametrize(
    "make, words",
    [
        (twenty_five_silent_minutes, "plays for 25.0 minutes"),
        (lambda: flac_without_its_length(twenty_five_silent_minutes()), "longer than 20.0 minutes"),
        (lambda: raw_wav(bytes(2000), sample_rate=1), "1 Hz"),
        (lambda: raw_wav(bytes(2000), sample_rate=200_000), "8 kHz to 192 kHz"),
        (lambda: raw_wav(bytes(18 * 100), sample_rate=32000, channels=9), "9 channels"),
    ],
    ids=["25-minutes-in-270-kB", "length-unknown-till-decoded", "1-Hz", "200-kHz", "9-channels"],
)
def test_audio_that_decodes_to_far_more_than_its_bytes_is_refused_at_upload(stack, make, words):
    with stack.client() as client:
        before = len(client.get("/api/chains").json())
        reply = upload(client, make(), filename="bomb.flac")
        assert reply.status_code == 415, reply.text
        assert words in reply.json()["detail"]
        assert len(client.get("/api/chains").json()) == before  # nothing half-written
