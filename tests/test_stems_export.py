"""Export and stems end to end: every service a separate process, tiny random
MusicGen and HTDemucs models loaded like released checkpoints."""

from __future__ import annotations

import io
import time
import zipfile

import av
import numpy as np
import pytest

from sparrow_common.audio import decode
from sparrow_common.testing.clips import make_clip, silent_flac
from sparrow_common.testing.memory import peak_mib, restart_peak

ROOT_S, TAKE_S = 3.0, 2.0


@pytest.fixture(scope="module")
def full_stack(quiet_stack):
    """A stack on which no other module makes stems: the last test looks for
    any stem left on disk."""
    return quiet_stack


@pytest.fixture(scope="module")
def spine(full_stack):
    """A chain whose spine is the root and two generated takes, all committed."""
    with full_stack.client("ann") as client:
        clip = make_clip("wav", seconds=ROOT_S, sample_rate=44100, channels=2)
        chain = client.post("/api/chains", files={"file": ("idea.wav", clip)}, data={"title": "Night Drive"}).json()
        parent = chain["root"]["id"]
        for _ in range(2):
            take = client.post(f"/api/nodes/{parent}/branch", json={"duration_s": TAKE_S}).json()
            assert full_stack.wait_for(take["id"])["status"] == "ready"
            assert client.post(f"/api/nodes/{take['id']}/commit").status_code == 200
            parent = take["id"]
    return chain, parent


@pytest.mark.parametrize("fmt, content_type", [("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("flac", "audio/flac")])
@pytest.mark.parametrize("crossfade_ms", [0, 250])
def test_export_decodes_to_the_spine_length_less_the_crossfades(full_stack, spine, fmt, content_type, crossfade_ms):
    chain, _ = spine
    with full_stack.client("ann") as client:
        reply = client.post(
            f"/api/chains/{chain['id']}/export", json={"format": fmt, "crossfade_ms": crossfade_ms, "normalize": True}
        )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == content_type
    assert reply.headers["content-disposition"] == f'attachment; filename="Night-Drive.{fmt}"'
    audio = decode(reply.content, 44100, 2)  # the root's rate and channels
    expected = ROOT_S + 2 * TAKE_S - 2 * crossfade_ms / 1000
    assert abs(audio.shape[-1] / 44100 - expected) < 0.06
    assert abs(audio).max() > 0.01
    if fmt != "wav":  # a marker at every seam, named after its part (the WAV's cues: services/export/tests)
        with av.open(io.BytesIO(reply.content)) as container:
            chapters = container.chapters()
        assert [c["metadata"]["title"] for c in chapters] == ["idea", "Part 2", "Part 3"]
        starts = [float(c["start"] * c["time_base"]) for c in chapters]
        seam = crossfade_ms / 1000
        assert starts == pytest.approx([0.0, ROOT_S - seam, ROOT_S + TAKE_S - 2 * seam], abs=0.05)


def test_bad_export_requests(full_stack, spine):
    chain, _ = spine
    with full_stack.client("ann") as client:
        for body in ({"format": "ogg"}, {"crossfade_ms": 5000}, {"crossfade_ms": -1}, {"loud": True}):
            assert client.post(f"/api/chains/{chain['id']}/export", json=body).status_code == 422, body
    with full_stack.client("bob") as client:
        assert client.post(f"/api/chains/{chain['id']}/export", json={}).status_code == 404


def test_stems_are_four_files_of_the_nodes_length_and_cached(full_stack, spine):
    _, node_id = spine
    with full_stack.client("ann") as client:
        asked = client.post(f"/api/nodes/{node_id}/stems")
        assert asked.status_code == 202 and asked.json()["status"] in ("pending", "separating", "ready")
        deadline = time.monotonic() + 120
        while (stems := client.get(f"/api/nodes/{node_id}/stems").json())["status"] not in ("ready", "error"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert stems["status"] == "ready", stems["error_msg"]
        assert sorted(s["name"] for s in stems["stems"]) == ["bass", "drums", "other", "vocals"]
        for stem in stems["stems"]:
            audio = decode(client.get(stem["audio_url"]).content, 44100, 2)
            assert abs(audio.shape[-1] / 44100 - TAKE_S) < 0.03
            part = client.get(stem["audio_url"], headers={"Range": "bytes=0-99"})
            assert part.status_code == 206 and len(part.content) == 100

        started = time.perf_counter()
        again = client.post(f"/api/nodes/{node_id}/stems")
        assert time.perf_counter() - started < 1.0
        assert again.status_code == 202 and again.json() == stems  # the cached set, as it was


def wait_for_stems(client, node_id: str, model: str = "") -> dict:
    deadline = time.monotonic() + 120
    while (stems := client.get(f"/api/nodes/{node_id}/stems", params={"model": model}).json())["status"] not in (
        "ready", "error",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert stems["status"] == "ready", stems["error_msg"]
    return stems


SIX = ["drums", "bass", "other", "vocals", "guitar", "piano"]


def test_a_six_stem_model_gives_six_stems_beside_the_four(full_stack, spine):
    _, node_id = spine
    with full_stack.client("ann") as client:
        gpu = client.get("/api/gpu").json()
        (worker,) = gpu["stems"]
        assert [(m["name"], m["stems"]) for m in worker["models"]] == [("htdemucs", SIX[:4]), ("htdemucs_6s", SIX)]
        asked = client.post(f"/api/nodes/{node_id}/stems", json={"model": "htdemucs_6s"})
        assert asked.status_code == 202 and asked.json()["model"] == "htdemucs_6s"
        six = wait_for_stems(client, node_id, "htdemucs_6s")
        assert [s["name"] for s in six["stems"]] == SIX  # in the model's order
        guitar = next(s for s in six["stems"] if s["name"] == "guitar")
        audio = decode(client.get(guitar["audio_url"]).content, 44100, 2)
        assert abs(audio.shape[-1] / 44100 - TAKE_S) < 0.03 and abs(audio).max() > 0
        # The four-stem set of the same audio is its own, and has no guitar.
        client.post(f"/api/nodes/{node_id}/stems")
        four = wait_for_stems(client, node_id)
        assert four["model"] == "htdemucs" and [s["name"] for s in four["stems"]] == SIX[:4]
        drums = {model: client.get(f"/api/nodes/{node_id}/stems/drums/audio", params={"model": model}).content
                 for model in ("htdemucs", "htdemucs_6s")}
        assert drums["htdemucs"] != drums["htdemucs_6s"]
        missing = client.get(f"/api/nodes/{node_id}/stems/guitar/audio")
        assert missing.status_code == 404 and "have no guitar" in missing.json()["detail"]
        # Bad names and models say why.
        unknown = client.post(f"/api/nodes/{node_id}/stems", json={"model": "mdx_extra"})
        assert unknown.status_code == 422 and "htdemucs, htdemucs_6s" in unknown.text
        assert client.get(f"/api/nodes/{node_id}/stems", params={"model": "x" * 65}).status_code == 422
        assert client.get(f"/api/nodes/{node_id}/stems/Drums!/audio").status_code == 422


def test_a_take_prompted_by_the_drums_is_made_from_the_drums_alone(full_stack):
    """The worker hears the drums stem of the path: the same seed continuing an
    upload of that very stem gives the same take, byte for byte, and continuing
    the mix gives another."""
    knobs = {"duration_s": 1.0, "prompt_duration_s": 2.0, "seed": 11}
    with full_stack.client("ann") as client:
        clip = make_clip("wav", seconds=ROOT_S, sample_rate=44100, channels=2)
        chain = client.post("/api/chains", files={"file": ("band.wav", clip)}).json()
        root = chain["root"]["id"]
        # Not split yet: the take waits for the root's stems, asked for it.
        drummed = client.post(f"/api/nodes/{root}/branch", json={**knobs, "prompt_source": "drums"})
        assert drummed.status_code == 202, drummed.text
        assert drummed.json()["params"]["prompt_source"] == "drums"
        made = full_stack.wait_for(drummed.json()["id"], timeout=180)
        assert made["status"] == "ready", made["error_msg"]
        stems = wait_for_stems(client, root)
        drums = client.get(next(s["audio_url"] for s in stems["stems"] if s["name"] == "drums")).content
        alone = client.post("/api/chains", files={"file": ("drums.wav", drums)}).json()["root"]["id"]
        mixed = [client.post(f"/api/nodes/{parent}/branch", json=knobs).json() for parent in (alone, root)]
        heard = [full_stack.wait_for(take["id"]) for take in mixed]
        takes = [client.get(f"/api/nodes/{node['id']}/audio").content for node in (made, *heard)]
        assert takes[0] == takes[1]  # what the drums alone give
        assert takes[0] != takes[2]  # not what the mix gives
        # A stem as the prompt is the paid tier's, and must name a stem.
        assert client.post(f"/api/nodes/{root}/branch", json={"prompt_source": "Drums!"}).status_code == 422
        for made_here in (chain["id"], client.get(f"/api/nodes/{alone}").json()["chain_id"]):
            assert client.delete(f"/api/chains/{made_here}").status_code == 204
    with full_stack.client("bob") as client:
        mine = client.post("/api/chains", files={"file": ("b.wav", clip)}).json()["root"]["id"]
        refused = client.post(f"/api/nodes/{mine}/takes", json={"prompt_source": "drums"})
        assert refused.status_code == 403 and "paid tier" in refused.text
        assert client.delete(f"/api/chains/{client.get(f'/api/nodes/{mine}').json()['chain_id']}").status_code == 204


@pytest.mark.parametrize("model, names", [("", SIX[:4]), ("htdemucs_6s", SIX)])
def test_the_spines_stems_download_as_a_zip_of_the_spines_length(full_stack, spine, model, names):
    chain, _ = spine
    body = {"format": "flac", "crossfade_ms": 250, "normalize": True, "stems": True, "stems_model": model or None}
    with full_stack.client("ann") as client:
        # The root and the first take have no stems yet: they are split first.
        reply = client.post(f"/api/chains/{chain['id']}/export", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/zip"
        assert reply.headers["content-disposition"] == 'attachment; filename="Night-Drive.zip"'
        with zipfile.ZipFile(io.BytesIO(reply.content)) as archive:
            assert archive.namelist() == ["mix.flac", *(f"{name}.flac" for name in names)]
            files = {name: archive.read(name) for name in archive.namelist()}
        plain = client.post(f"/api/chains/{chain['id']}/export", json={**body, "stems": False}).content
    assert files["mix.flac"] == plain  # the mix is the plain export
    expected = ROOT_S + 2 * TAKE_S - 2 * 0.25
    for name, data in files.items():
        audio = decode(data, 44100, 2)
        assert abs(audio.shape[-1] / 44100 - expected) < 0.06, name
        assert abs(audio).max() > 0.001, name


def test_everything_but_the_drums_exports_as_one_file_of_the_other_stems(full_stack, spine):
    chain, _ = spine
    body = {"format": "wav", "crossfade_ms": 250}
    with full_stack.client("ann") as client:
        reply = client.post(f"/api/chains/{chain['id']}/export", json={**body, "without": ["drums"]})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "audio/wav"
        assert reply.headers["content-disposition"] == 'attachment; filename="Night-Drive-without-drums.wav"'
        plain = client.post(f"/api/chains/{chain['id']}/export", json=body).content
        zipped = client.post(f"/api/chains/{chain['id']}/export", json={**body, "stems": True}).content
        for wrong in ({"without": ["drums"], "stems": True}, {"without": ["kazoo"]}, {"without": SIX[:4]}):
            refused = client.post(f"/api/chains/{chain['id']}/export", json={**body, **wrong})
            assert refused.status_code == 422, (wrong, refused.text)
    without, mix = decode(reply.content, 44100, 2), decode(plain, 44100, 2)
    assert abs(without.shape[-1] - mix.shape[-1]) <= 2  # as long as the mix
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        others = sum(decode(archive.read(f"{name}.wav"), 44100, 2) for name in SIX[1:4])
    n = min(without.shape[-1], others.shape[-1])
    # A file's samples stop at full scale (the tiny random model's stems add up past it).
    np.testing.assert_allclose(without[:, :n], np.clip(others[:, :n], -1, 1), atol=3e-3)


def test_the_spines_stems_are_the_paid_tiers(full_stack, spine):
    chain, _ = spine
    with full_stack.client("bob") as client:
        refused = client.post(f"/api/chains/{chain['id']}/export", json={"stems": True})
        assert refused.status_code == 403 and "paid tier" in refused.text
        refused = client.post(f"/api/chains/{chain['id']}/export", json={"without": ["drums"]})
        assert refused.status_code == 403 and "paid tier" in refused.text
    with full_stack.client("ann") as client:
        unknown = client.post(f"/api/chains/{chain['id']}/export", json={"stems": True, "stems_model": "mdx_extra"})
        assert unknown.status_code == 422 and "htdemucs, htdemucs_6s" in unknown.text


def test_the_chain_service_stores_stems_as_they_stream_in(full_stack):
    """Four stems of 90 s are 64 MB of WAV: the chain service writes each chunk
    to its file as it arrives, rather than holding the four whole."""
    pid = full_stack.chain.process.pid
    with full_stack.client("ann") as client:
        reply = client.post("/api/chains", files={"file": ("long.flac", silent_flac(90, sample_rate=44100))})
        assert reply.status_code == 201, reply.text
        root = reply.json()["root"]
        before = restart_peak(pid)
        assert client.post(f"/api/nodes/{root['id']}/stems").status_code == 202
        deadline = time.monotonic() + 120
        while (stems := client.get(f"/api/nodes/{root['id']}/stems").json())["status"] not in ("ready", "error"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert stems["status"] == "ready", stems["error_msg"]
        assert all(stem["audio"]["duration_s"] == pytest.approx(90, abs=0.05) for stem in stems["stems"])
        grew = peak_mib(pid) - before
        assert client.delete(f"/api/chains/{reply.json()['id']}").status_code == 204
    print(f"the chain service's peak memory grew {grew:.0f} MB receiving 64 MB of stems")
    assert grew < 40, f"the chain service's peak memory grew {grew:.0f} MB receiving 64 MB of stems"


def test_stems_need_the_paid_tier_and_the_owner(full_stack, spine):
    _, node_id = spine
    with full_stack.client("bob") as client:
        for method, path in (("POST", f"/api/nodes/{node_id}/stems"), ("GET", f"/api/nodes/{node_id}/stems")):
            reply = client.request(method, path)
            assert reply.status_code == 403 and "free tier" in reply.json()["detail"]
    with full_stack.client("carol") as client:  # paid, but not hers
        assert client.post(f"/api/nodes/{node_id}/stems").status_code == 404
        assert client.get(f"/api/nodes/{node_id}/stems/drums/audio").status_code == 404


def test_deleting_the_chain_takes_its_stems_along(full_stack, spine):
    chain, _ = spine
    stems_dir = full_stack.blob_dir / "stems"
    assert any(stems_dir.rglob("*.wav"))  # made by the stems test above
    with full_stack.client("ann") as client:
        assert client.delete(f"/api/chains/{chain['id']}").status_code == 204
    assert not any(stems_dir.rglob("*.wav")), "stems of deleted audio stayed on disk"
