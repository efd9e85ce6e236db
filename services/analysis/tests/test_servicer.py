"""The analysis worker over a real in-process gRPC server."""

from __future__ import annotations

import asyncio
import math

import grpc
import numpy as np
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sparrow.v1 import analysis_pb2, analysis_pb2_grpc, common_pb2

from sparrow_analysis.config import Settings
from sparrow_analysis.server import build_server
from sparrow_common.audio import encode_wav, split
from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.songs import song

RATE = 44100


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker():
    server = await build_server(Settings(host="127.0.0.1", port=0, metrics_port=0))
    await asyncio.wait_for(asyncio.shield(server.loading), 120)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
        yield server, analysis_pb2_grpc.AnalysisServiceStub(channel), channel
    await server.close()


def request(
    clip: bytes | None,
    context: bytes | None = None,
    setup: bool = True,
    part: bytes | None = None,
    rejoin: analysis_pb2.RejoinAsked | None = None,
):
    if setup:
        yield analysis_pb2.AnalyzeRequest(setup=analysis_pb2.AnalyzeSetup(rejoin=rejoin))
    for chunk in split(clip or b"", 64 * 1024):
        yield analysis_pb2.AnalyzeRequest(chunk=common_pb2.AudioChunk(data=chunk))
    for chunk in split(context or b"", 64 * 1024):
        yield analysis_pb2.AnalyzeRequest(context_chunk=common_pb2.AudioChunk(data=chunk))
    for chunk in split(part or b"", 64 * 1024):
        yield analysis_pb2.AnalyzeRequest(part_chunk=common_pb2.AudioChunk(data=chunk))


async def analyze(stub, clip, context=None, part=None, rejoin=None):
    progress, done = [], None
    async for reply in stub.Analyze(request(clip, context, part=part, rejoin=rejoin), timeout=60):
        if reply.WhichOneof("part") == "progress":
            progress.append((reply.progress.step, reply.progress.total))
        elif reply.WhichOneof("part") == "done":
            done = reply.done
    return progress, done


def wav(samples) -> bytes:
    return encode_wav(samples[None], RATE)


def replacing(rejoin: analysis_pb2.RejoinAsked, part: bytes | None = None):
    """A request for a short clip that replaces a stretch of a short part."""
    return request(make_clip("wav"), part=part or make_clip("wav"), rejoin=rejoin)


def asked_at(asked_s: float, bars: int = 4) -> analysis_pb2.RejoinAsked:
    """A rejoin asked at `asked_s` of a part at 120 bpm in 4/4 (a bar every 2 s)."""
    return analysis_pb2.RejoinAsked(
        asked_s=asked_s,
        downbeats_s=[2.0 * k for k in range(bars)],
        beats_s=[0.5 * k for k in range(4 * bars)],
        tempo_bpm=120.0,
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_a_clip_comes_back_with_its_tempo_bars_key_and_loudness(worker):
    _, stub, channel = worker
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    progress, done = await analyze(stub, wav(song(96.0, 3, "E minor", bars=6, sample_rate=RATE, seed=1)))
    a = done.analysis
    assert progress[-1] == (1, 1)
    assert a.HasField("tempo_bpm") and a.tempo_bpm == pytest.approx(96.0, rel=0.02)
    assert a.meter == 3 and a.time_signature == "3/4" and a.key == "E minor" and len(a.downbeats_s) >= 4
    assert a.HasField("loudness_lufs") and -30 < a.loudness_lufs < 0
    assert not done.HasField("seam")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_take_with_its_path_comes_back_with_a_seam_report(worker):
    _, stub, _ = worker
    whole = song(120.0, 4, "A minor", bars=12, sample_rate=RATE, seed=5)[: 24 * RATE]
    progress, done = await analyze(stub, wav(whole[16 * RATE :]), context=wav(whole[: 16 * RATE]))
    assert progress[-1] == (3, 3)
    seam = done.seam
    assert seam.key_match == "same" and abs(seam.beat_offset_ms) < 30 and seam.score > 0.8
    assert "on the beat" in seam.notes


@pytest.mark.asyncio(loop_scope="module")
async def test_a_clip_with_no_beat_has_no_tempo(worker):
    _, stub, _ = worker
    _, done = await analyze(stub, make_clip("wav", seconds=4.0, sample_rate=RATE))
    assert not done.analysis.HasField("tempo_bpm") and done.analysis.meter == 0 and not done.analysis.beats_s
    assert done.analysis.time_signature == "" and done.analysis.tempo_confidence < 0.36


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    "messages, words",
    [
        (lambda: request(None), "holds no clip"),
        (lambda: request(b"not audio at all" * 100), "can't be read"),
        (lambda: request(make_clip("wav"), setup=False), "setup first"),
        (lambda: request(make_clip("wav"), part=make_clip("wav")), "without setup.rejoin"),
        (lambda: request(make_clip("wav"), rejoin=asked_at(1.0)), "no part audio"),
        (lambda: replacing(asked_at(math.nan)), "say a time"),
        (lambda: replacing(asked_at(-1.0)), "can't be negative"),
        (lambda: replacing(asked_at(60.0)), "past the end"),
        (lambda: replacing(asked_at(1.0), part=b"not audio at all" * 100), "part can't"),
    ],
    ids=[
        "empty",
        "not audio",
        "no setup",
        "part unasked",
        "asked no part",
        "asked nan",
        "asked < 0",
        "asked late",
        "part not audio",
    ],
)
async def test_bad_requests_are_invalid_argument(worker, messages, words):
    _, stub, _ = worker
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.Analyze(messages(), timeout=30):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in caught.value.details()


@pytest.mark.asyncio(loop_scope="module")
async def test_capacity_says_what_it_runs(worker):
    _, stub, _ = worker
    capacity = (await stub.GetCapacity(analysis_pb2.AnalysisServiceGetCapacityRequest(), timeout=5)).capacity
    assert capacity.ready and capacity.device == "cpu" and capacity.model.startswith("librosa")
    assert (capacity.slots, capacity.busy, capacity.queued) == (2, 0, 0)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_new_figures_cross_the_wire(worker):
    """The clip's time signature, tempo confidence and runner-up key; the seam's
    weakest figure; and the path's grid, sent in the setup, standing for what is
    heard in the context (its beats on the context's clock, as sent)."""
    _, stub, _ = worker
    whole = song(120.0, 4, "A minor", bars=12, sample_rate=RATE, seed=5)[: 24 * RATE]
    grid = analysis_pb2.PathGrid(tempo_bpm=110.0, beats_s=[i * 60 / 110 for i in range(29)], key="A minor")

    def messages():
        yield analysis_pb2.AnalyzeRequest(setup=analysis_pb2.AnalyzeSetup(path_grid=grid))
        yield from request(wav(whole[16 * RATE :]), wav(whole[: 16 * RATE]), setup=False)

    done = None
    async for reply in stub.Analyze(messages(), timeout=60):
        if reply.WhichOneof("part") == "done":
            done = reply.done
    a = done.analysis
    assert a.time_signature == "4/4" and a.meter == 4 and 0.36 <= a.tempo_confidence <= 1
    assert a.key == "A minor" and a.key_runner_up and a.key_runner_up != a.key
    # Heard, the path is 120 bpm; the grid says 110: the take reads 9% fast.
    assert done.seam.tempo_change_pct == pytest.approx(9.1, abs=1.5)
    assert done.seam.weakest.startswith("tempo +") and done.seam.unjudged == ""


@pytest.mark.asyncio(loop_scope="module")
async def test_a_take_after_a_blip_of_a_path_is_unjudged(worker):
    _, stub, _ = worker
    whole = song(120.0, 4, "A minor", bars=8, sample_rate=RATE, seed=5)
    _, done = await analyze(stub, wav(whole[4 * RATE :]), context=wav(whole[int(3.9 * RATE) : 4 * RATE]))
    assert "too short" in done.seam.unjudged and done.seam.score < 0.71


@pytest.mark.asyncio(loop_scope="module")
async def test_a_replacing_take_comes_back_on_the_downbeat_where_it_plays_the_part_again(worker):
    """A take that plays another key for its first two bars, then the part
    itself: asked a second before, the part comes back on the downbeat where the
    two match again (on the part audio's clock, the take's first sample at 0),
    under a beat's crossfade; the take's analysis and seam come in the same call."""
    _, stub, _ = worker
    whole = song(120.0, 4, "A minor", bars=8, sample_rate=RATE, seed=3)
    other = song(120.0, 4, "F# major", bars=8, sample_rate=RATE, seed=3)
    context, part = whole[: 4 * RATE], whole[4 * RATE : 12 * RATE]
    take = np.concatenate([other[4 * RATE : 8 * RATE], whole[8 * RATE : 12 * RATE]])
    progress, done = await analyze(
        stub, wav(take), context=wav(context), part=wav(part), rejoin=asked_at(3.0)
    )
    assert progress[-1] == (4, 4)
    assert done.analysis.tempo_bpm == pytest.approx(120.0, rel=0.02) and done.HasField("seam")
    joined = done.rejoin
    assert joined.at_s == pytest.approx(4.0) and joined.on == "downbeat" and joined.unjudged == ""
    assert joined.crossfade_s == pytest.approx(0.5) and joined.score > 0.7 and abs(joined.beat_offset_ms) < 30
    assert joined.notes[0] == "comes back on a downbeat 1.0 s after the asked point"
    assert "on the beat" in joined.notes


@pytest.mark.asyncio(loop_scope="module")
async def test_a_replacing_take_that_ends_too_soon_is_unjudged_at_the_asked_point(worker):
    _, stub, _ = worker
    part = song(120.0, 4, "A minor", bars=2, sample_rate=RATE, seed=3)[: 4 * RATE]
    take = part[: int(1.5 * RATE)]
    progress, done = await analyze(stub, wav(take), part=wav(part), rejoin=asked_at(1.3, bars=2))
    assert progress[-1] == (2, 2) and not done.HasField("seam")
    joined = done.rejoin
    assert joined.score == 0 and joined.at_s == pytest.approx(1.3) and joined.on == "time"
    assert joined.crossfade_s == pytest.approx(0.1)
    assert joined.unjudged == (
        "the take ends 0.2 s after the asked point: too soon to hear where it could come back"
    )
