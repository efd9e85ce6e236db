"""The stems worker over a real in-process gRPC server, with a tiny random HTDemucs."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import wave

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sparrow.v1 import common_pb2, stems_pb2, stems_pb2_grpc

from sparrow_common.audio import decode, encode_wav, split
from sparrow_common.errors import MODEL_LOADING
from sparrow_common.testing.clips import make_clip, tone
from sparrow_common.testing.memory import peak_mib, restart_peak
from sparrow_stems.config import Settings
from sparrow_stems.engine.demucs import DemucsEngine
from sparrow_stems.server import build_server

STEMS = ["drums", "bass", "other", "vocals"]


async def start(model_dir, engine=None, wait=True, **overrides):
    settings = Settings(host="127.0.0.1", port=0, model_dir=str(model_dir), torch_threads=2, **overrides)
    server = await build_server(settings, engine)
    if wait:
        await asyncio.wait_for(asyncio.shield(server.loading), 60)
    return server


@pytest.fixture
async def worker(tiny_htdemucs):
    server = await start(tiny_htdemucs)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
        yield server, stems_pb2_grpc.StemsServiceStub(channel), channel
    await server.close()


def separate_request(audio=None, output_format="wav", model=""):
    audio = audio if audio is not None else make_clip("wav", seconds=3.0, sample_rate=44100, channels=2)
    yield stems_pb2.SeparateRequest(setup=stems_pb2.SeparateSetup(output_format=output_format, model=model))
    for chunk in split(audio, 64 * 1024):
        yield stems_pb2.SeparateRequest(chunk=common_pb2.AudioChunk(data=chunk))


async def collect(call, keep_audio=True):
    """Progress, each stem's WAV (or, with keep_audio=False, its header and size) and done."""
    progress, stems, sizes, done = [], {}, {}, None
    while (reply := await call.read()) is not grpc.aio.EOF:
        kind = reply.WhichOneof("part")
        if kind == "progress":
            progress.append((reply.progress.step, reply.progress.total))
        elif kind == "chunk":
            name, data = reply.chunk.stem, reply.chunk.data
            if keep_audio or name not in stems:
                stems.setdefault(name, bytearray()).extend(data)
            sizes[name] = sizes.get(name, 0) + len(data)
        elif kind == "done":
            done = reply.done
    return progress, {k: bytes(v) for k, v in stems.items()}, sizes, done


def wav_header(data: bytes) -> tuple[int, int, int]:
    """(sample rate, channels, frames) as the WAV header states them."""
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getnframes()


async def test_four_stems_of_the_mix_length_with_rising_progress(worker):
    _, stub, channel = worker
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    song = make_clip("wav", seconds=12.0, sample_rate=44100, channels=2)
    progress, stems, _, done = await collect(stub.Separate(separate_request(song), timeout=60))
    # 12 s in segments of 7.8 s, one every 5.85 s: three segments, reported one by one.
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert list(stems) == STEMS and list(done.stems) == STEMS
    assert (done.sample_rate, done.model) == (44100, "htdemucs") and done.duration_s == pytest.approx(12.0)
    decoded = {}
    for name, data in stems.items():
        assert wav_header(data) == (44100, 2, 12 * 44100)
        decoded[name] = decode(data, 44100, 2)
        assert decoded[name].shape == (2, 12 * 44100) and np.abs(decoded[name]).max() > 0
    assert not np.array_equal(decoded["drums"], decoded["vocals"])


@pytest.mark.parametrize("fmt, rate, channels", [("mp3", 32000, 1), ("flac", 48000, 2)])
async def test_any_format_gives_stems_at_the_models_rate_and_the_mix_length(worker, fmt, rate, channels):
    _, stub, _ = worker
    clip = make_clip(fmt, seconds=3.0, sample_rate=rate, channels=channels)
    _, stems, _, done = await collect(stub.Separate(separate_request(clip), timeout=60))
    assert list(stems) == STEMS
    for data in stems.values():
        sample_rate, stem_channels, frames = wav_header(data)
        # the codec's priming and padding aside, as long as the mix
        assert (sample_rate, stem_channels) == (44100, 2) and abs(frames / 44100 - 3.0) < 0.06
    assert done.duration_s == pytest.approx(3.0, abs=0.06)


async def test_a_worker_offering_two_models_splits_with_the_one_asked(tiny_htdemucs):
    server = await start(tiny_htdemucs, models="htdemucs, htdemucs_6s")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = stems_pb2_grpc.StemsServiceStub(channel)
            capacity = await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)
            assert capacity.capacity.model == "htdemucs"
            assert [(m.name, list(m.stems)) for m in capacity.models] == [
                ("htdemucs", STEMS), ("htdemucs_6s", [*STEMS, "guitar", "piano"]),
            ]
            song = make_clip("wav", seconds=3.0, sample_rate=44100, channels=2)
            _, six, _, done = await collect(stub.Separate(separate_request(song, model="htdemucs_6s"), timeout=60))
            assert list(six) == list(done.stems) == [*STEMS, "guitar", "piano"] and done.model == "htdemucs_6s"
            assert all(wav_header(data) == (44100, 2, 3 * 44100) for data in six.values())
            # No model named: the default, four stems.
            _, four, _, done = await collect(stub.Separate(separate_request(song), timeout=60))
            assert list(four) == STEMS and done.model == "htdemucs"
            assert not np.array_equal(decode(four["drums"], 44100, 2), decode(six["drums"], 44100, 2))
    finally:
        await server.close()


def _chunks_only():
    yield stems_pb2.SeparateRequest(chunk=common_pb2.AudioChunk(data=make_clip("wav", seconds=1.0)))


def _setup_twice():
    yield from separate_request()
    yield stems_pb2.SeparateRequest(setup=stems_pb2.SeparateSetup())


@pytest.mark.parametrize(
    "requests, words",
    [
        (_chunks_only, "setup first"),
        (_setup_twice, "setup first"),
        (lambda: separate_request(output_format="mp3"), "output_format 'mp3'"),
        (lambda: separate_request(audio=b""), "no audio"),
        (lambda: separate_request(audio=b"not audio at all" * 100), "could not be decoded"),
        (lambda: separate_request(model="mdx_extra"), "offers the stems models htdemucs, not 'mdx_extra'"),
    ],
)
async def test_bad_requests_are_invalid_argument(worker, requests, words):
    _, stub, _ = worker
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub.Separate(requests(), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in caught.value.details()


async def test_full_worker_answers_resource_exhausted_and_cancel_stops_the_model(tiny_htdemucs, five_minute_song):
    server = await start(tiny_htdemucs, slots=1, queue_limit=1)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = stems_pb2_grpc.StemsServiceStub(channel)
            # Five minutes take the tiny model half a minute on two cores.
            running = stub.Separate(separate_request(five_minute_song), timeout=120)
            first = await running.read()
            assert first.WhichOneof("part") == "progress" and first.progress.total == 52
            waiting = stub.Separate(separate_request(), timeout=120)
            assert (await waiting.read()).queued.position == 1
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Separate(separate_request(), timeout=30))
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            capacity = (await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)).capacity
            assert (capacity.slots, capacity.busy, capacity.queued, capacity.queue_limit) == (1, 1, 1, 1)
            assert (capacity.ready, capacity.model, capacity.device) == (True, "htdemucs", "cpu")
            # Cancelling the long call stops the model at its next segment: the
            # waiting one runs long before the five minutes could have been split.
            running.cancel()
            _, stems, _, done = await asyncio.wait_for(collect(waiting), timeout=15)
            assert done is not None and list(stems) == STEMS
            capacity = (await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)).capacity
            assert (capacity.busy, capacity.queued) == (0, 0)
    finally:
        await server.close()


async def test_a_model_folder_that_does_not_exist_says_why_everywhere(tmp_path):
    server = await start(tmp_path / "no-such-folder")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = stems_pb2_grpc.StemsServiceStub(channel)
            capacity = (await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)).capacity
            assert not capacity.ready and "could not load Demucs model 'htdemucs'" in capacity.reason
            assert "no-such-folder" in capacity.reason
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Separate(separate_request(), timeout=30))
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert caught.value.details() == capacity.reason
    finally:
        await server.close()


async def test_a_folder_without_the_model_says_which_name_is_missing(tiny_htdemucs):
    server = await start(tiny_htdemucs, models="htdemucs_ft")
    try:
        reason = server.servicer.state.reason
        assert not server.servicer.state.ready and "htdemucs_ft" in reason and "htdemucs_ft.yaml" in reason
    finally:
        await server.close()


async def test_a_second_model_that_cant_load_leaves_the_default_serving_and_says_why(tiny_htdemucs):
    server = await start(tiny_htdemucs, models="htdemucs,my_demucs")
    try:
        assert server.servicer.state.ready
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = stems_pb2_grpc.StemsServiceStub(channel)
            capacity = await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)
            default, broken = capacity.models
            assert (default.name, list(default.stems), default.reason) == ("htdemucs", STEMS, "")
            assert broken.name == "my_demucs" and not broken.stems and "not one of Meta's released" in broken.reason
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Separate(separate_request(model="my_demucs"), timeout=30))
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "stems model 'my_demucs' is unavailable" in caught.value.details()
            _, four, _, _ = await collect(stub.Separate(separate_request(), timeout=60))
            assert list(four) == STEMS
    finally:
        await server.close()


class GatedEngine(DemucsEngine):
    """The real engine, whose loading waits until the test lets it go on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.go = threading.Event()

    def load(self) -> None:
        self.go.wait(30)
        super().load()


async def test_while_the_model_loads_calls_are_unavailable_then_served(tiny_htdemucs):
    engine = GatedEngine("htdemucs", tiny_htdemucs)
    server = await start(tiny_htdemucs, engine=engine, wait=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            stub = stems_pb2_grpc.StemsServiceStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            capacity = (await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)).capacity
            assert (capacity.ready, capacity.reason) == (False, MODEL_LOADING)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Separate(separate_request(), timeout=30))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE and caught.value.details() == MODEL_LOADING
            engine.go.set()
            await asyncio.wait_for(asyncio.shield(server.loading), 30)
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            capacity = (await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=5)).capacity
            assert (capacity.ready, capacity.reason) == (True, "")
    finally:
        engine.go.set()
        await server.close()


async def _separate_measuring_peak(stub, song: bytes):
    """What Separate returns (stem headers and sizes only), and by how many MiB
    the process's peak RSS rose above its RSS before the call."""
    before = restart_peak()
    # A deadline against a hang, not a timing: a loaded machine took past 120 s for five minutes.
    result = await collect(stub.Separate(separate_request(song), timeout=300), keep_audio=False)
    return result, peak_mib() - before


@pytest.mark.skipif(sys.platform != "linux", reason="reads and resets peak RSS through /proc")
async def test_a_long_song_splits_in_bounded_memory(tiny_htdemucs):
    # Two minutes: the memory a split holds beyond one segment's working set is
    # the stems' (it grows with the song, a whole-song pass by gigabytes); five
    # minutes proved the same in two and a half times the suite's time.
    seconds = 120
    song = encode_wav(tone(seconds, 44100, 2), 44100)
    # Segments that don't overlap: a quarter fewer passes through the model, the same memory.
    server = await start(tiny_htdemucs, overlap=0.0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = stems_pb2_grpc.StemsServiceStub(channel)
            # One segment's worth: the model's working set, whatever the song's length.
            _, one_segment_mib = await _separate_measuring_peak(stub, make_clip("wav", 5.0, 44100, 2))
            (progress, stems, sizes, done), song_mib = await _separate_measuring_peak(stub, song)
    finally:
        await server.close()
    samples = seconds * 44100
    assert progress[-1] == (16, 16) and done.duration_s == pytest.approx(seconds)
    for name in STEMS:
        assert wav_header(stems[name]) == (44100, 2, samples)
        assert sizes[name] == 44 + 2 * 2 * samples
    # Beyond one segment's working set, a split must hold the four stems (float32,
    # about 160 MiB for two minutes) and the mix; segment by segment, with one
    # stem encoded at a time, that is all. A whole-song pass through even this
    # tiny model would need gigabytes.
    stems_mib = 4 * 2 * samples * 4 / 2**20
    print(f"peak RSS growth: one segment {one_segment_mib:.0f} MiB, two minutes {song_mib:.0f} MiB")
    assert song_mib < one_segment_mib + 2.5 * stems_mib, (one_segment_mib, song_mib)
