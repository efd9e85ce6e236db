"""The generation worker over a real in-process gRPC server, with a tiny random MusicGen."""

from __future__ import annotations

import asyncio
import io
import wave

import grpc
import numpy as np
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sparrow.v1 import common_pb2, generation_pb2, generation_pb2_grpc

from sparrow_common.audio import decode, split
from sparrow_common.testing.clips import make_clip
from sparrow_generation.config import Settings
from sparrow_generation.server import build_server


async def start(model, **overrides):
    settings = Settings(host="127.0.0.1", port=0, model=str(model), **overrides)
    server = await build_server(settings)
    await asyncio.wait_for(asyncio.shield(server.loading), 60)
    return server


# One worker (and one event loop) for the module: loading the model again for
# each test cost 0.4-3 s a test. Every test leaves the worker idle.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker(tiny_musicgen):
    server = await start(tiny_musicgen, window_s=4.0, stride_s=2.4)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
        yield server, generation_pb2_grpc.GenerationServiceStub(channel), channel
    await server.close()


def generate_request(seeds, duration_s=2.0, prompt_s=1.0, context=None, **knobs):
    context = context if context is not None else make_clip("wav", seconds=1.5, sample_rate=44100, channels=2)
    yield generation_pb2.GenerateRequest(
        setup=generation_pb2.GenerateSetup(
            knobs=common_pb2.Knobs(duration_s=duration_s, prompt_duration_s=prompt_s, **knobs),
            seeds=seeds,
        )
    )
    for chunk in split(context, 16 * 1024):
        yield generation_pb2.GenerateRequest(context_chunk=common_pb2.AudioChunk(data=chunk))


async def collect(call):
    progress, takes, done = [], {}, None
    while (reply := await call.read()) is not grpc.aio.EOF:
        kind = reply.WhichOneof("part")
        if kind == "progress":
            progress.append((reply.progress.step, reply.progress.total))
        elif kind == "chunk":
            takes.setdefault(reply.chunk.take, bytearray()).extend(reply.chunk.data)
        elif kind == "done":
            done = reply.done
    return progress, {k: bytes(v) for k, v in takes.items()}, done


async def test_takes_stream_back_with_rising_progress(worker):
    server, stub, channel = worker
    health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    progress, takes, done = await collect(stub.Generate(generate_request([11, 12, 13], duration_s=5.0), timeout=60))
    steps = [s for s, _ in progress]
    assert steps == sorted(steps) and steps[-1] == progress[-1][1] and len(set(steps)) > 10
    assert [t.seed for t in done.takes] == [11, 12, 13] and done.model.endswith("tiny-musicgen")
    for index in range(3):
        with wave.open(io.BytesIO(takes[index])) as wav:
            assert wav.getframerate() == 32000
            # the requested length (5 s, longer than the 4 s window: it slid), within one frame
            assert abs(wav.getnframes() - 5 * 32000) <= 640
    assert takes[0] != takes[1]


async def test_the_same_seed_and_parameters_give_identical_audio(worker):
    _, stub, _ = worker
    first = await collect(stub.Generate(generate_request([7], prompt="warm lofi", top_p=0.9), timeout=60))
    again = await collect(stub.Generate(generate_request([7], prompt="warm lofi", top_p=0.9), timeout=60))
    assert first[1][0] == again[1][0]
    # and the take is the same when it shares a batch with others
    batched = await collect(stub.Generate(generate_request([3, 7], prompt="warm lofi", top_p=0.9), timeout=60))
    same = decode(batched[1][1], 32000, 1), decode(first[1][0], 32000, 1)
    assert np.abs(same[0] - same[1]).max() < 1e-3


async def test_every_take_starts_where_its_parent_ends(worker):
    # EnCodec's reconstruction of the prompt sits off the parent's samples; a take
    # continues the reconstruction, so without the join it would click at the seam.
    _, stub, _ = worker
    context = make_clip("wav", seconds=3.0, sample_rate=44100, channels=2)
    parent_end = decode(context, 32000, 1)[0, -1]
    jumps = []
    for seeds in (list(range(8)), [8, 9]):
        _, takes, _ = await collect(
            stub.Generate(generate_request(seeds, duration_s=1.0, prompt_s=2.0, context=context), timeout=60)
        )
        for data in takes.values():
            take = decode(data, 32000, 1)[0]
            jumps.append(abs(take[0] - parent_end) / np.median(np.abs(np.diff(take))))
    assert len(jumps) == 10 and max(jumps) <= 1.5, jumps


async def test_half_precision_weights_run_through_the_worker(tiny_musicgen):
    # The CUDA path's dtypes (a float16 decoder fed float32 audio and T5 states), on the CPU.
    server = await start(tiny_musicgen, dtype="float16", device="cpu")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            _, takes, done = await collect(stub.Generate(generate_request([4, 5]), timeout=60))
            _, again, _ = await collect(stub.Generate(generate_request([5]), timeout=60))
        assert [t.seed for t in done.takes] == [4, 5]
        audio = [decode(takes[i], 32000, 1) for i in (0, 1)]
        assert all(np.isfinite(a).all() and np.abs(a).max() > 0 for a in audio)
        assert np.abs(audio[1] - decode(again[0], 32000, 1)).max() < 1e-3
    finally:
        await server.close()


@pytest.mark.parametrize(
    "seeds, knobs, words",
    [([], {}, "1 to 8 takes"), ([1] * 9, {}, "1 to 8 takes"), ([1], {"duration_s": 500}, "duration_s")],
)
async def test_bad_requests_are_invalid_argument(worker, seeds, knobs, words):
    _, stub, _ = worker
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub.Generate(generate_request(seeds, **knobs), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in caught.value.details()


async def test_undecodable_context_is_invalid_argument(worker):
    _, stub, _ = worker
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub.Generate(generate_request([1], context=b"not audio at all" * 100), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_full_worker_answers_resource_exhausted_and_cancel_stops_the_model(tiny_musicgen):
    server = await start(tiny_musicgen, max_rows=2, queue_limit=1)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            running = stub.Generate(generate_request([1], duration_s=120.0), timeout=120)
            assert (await running.read()).WhichOneof("part") == "progress"
            waiting = stub.Generate(generate_request([2]), timeout=120)
            assert (await waiting.read()).queued.position == 1
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Generate(generate_request([3]), timeout=30))
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            capacity = (await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=5)).capacity
            # The slots are decoder rows: one take and its unconditional copy (guidance 3) fill both.
            assert (capacity.slots, capacity.busy, capacity.queued, capacity.ready) == (2, 2, 1, True)
            assert capacity.rows_in_flight == 2
            # Cancelling the long call stops the model: the waiting one runs soon after.
            running.cancel()
            progress, takes, done = await asyncio.wait_for(collect(waiting), timeout=30)
            assert done is not None and len(takes) == 1
            capacity = (await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=5)).capacity
            assert (capacity.busy, capacity.queued, capacity.rows_in_flight) == (0, 0, 0)
            assert capacity.steps_per_second > 0  # the waiting call's pace
    finally:
        await server.close()


async def test_a_model_that_cannot_load_says_why_everywhere(tmp_path):
    server = await start(tmp_path / "no-such-model")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            capacity = (await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=5)).capacity
            assert not capacity.ready and "could not load MusicGen model" in capacity.reason
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Generate(generate_request([1]), timeout=30))
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "no-such-model" in caught.value.details()
    finally:
        await server.close()


async def test_stereo_checkpoints_continue_in_stereo(tmp_path):
    from sparrow_generation.engine.tiny import build_random_musicgen

    server = await start(build_random_musicgen(tmp_path / "tiny-stereo", stereo=True))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            _, takes, done = await collect(stub.Generate(generate_request([5], duration_s=1.0), timeout=60))
        assert done.takes[0].channels == 2
        with wave.open(io.BytesIO(takes[0])) as wav:
            assert wav.getnchannels() == 2 and abs(wav.getnframes() - 32000) <= 640
    finally:
        await server.close()


# -- melody conditioning and time left ----------------------------------------

def melody_request(seeds, melody: bytes, **kwargs):
    """generate_request's stream with a melody's chunks after the context's."""
    yield from generate_request(seeds, **kwargs)
    for chunk in split(melody, 16 * 1024):
        yield generation_pb2.GenerateRequest(melody_chunk=common_pb2.AudioChunk(data=chunk))


def melody_clip(freq: float, seconds: float = 2.0) -> bytes:
    from sparrow_common.audio import encode_wav
    from sparrow_common.testing.clips import tone

    return encode_wav(tone(seconds, 32000, 1, freq=freq), 32000)


async def test_a_melody_for_a_model_that_cannot_take_one_is_invalid_argument(worker):
    _, stub, _ = worker
    capacity = (await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=5)).capacity
    assert capacity.ready and not capacity.supports_melody
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await collect(stub.Generate(melody_request([1], melody_clip(262.0)), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert "tiny-musicgen" in details and "melody" in details and "facebook/musicgen-melody" in details


async def test_progress_says_how_long_is_left_and_the_estimate_falls(worker):
    _, stub, _ = worker
    call = stub.Generate(generate_request([4], duration_s=12.0), timeout=60)
    updates = []  # (when it arrived, step, total, eta_s)
    loop = asyncio.get_running_loop()
    while (reply := await call.read()) is not grpc.aio.EOF:
        if reply.WhichOneof("part") == "progress":
            updates.append((loop.time(), reply.progress.step, reply.progress.total, reply.progress.eta_s))
    assert len(updates) > 20
    assert updates[0][3] == 0.0  # one update shows no pace yet
    etas = [eta for _, step, total, eta in updates[1:] if step < total]
    assert all(eta > 0 for eta in etas)
    assert etas[-1] < etas[0] / 4  # it falls as the take nears its end
    # Halfway, the estimate is the pace kept so far carried over the steps left...
    first_when, first_step = updates[0][0], updates[0][1]
    when, step, total, eta = next(u for u in updates if u[1] >= u[2] / 2)
    assert 0.5 < eta / ((total - step) * (when - first_when) / (step - first_step)) < 2.0
    # ...and so near the time the rest really took, on a machine whose load may
    # change meanwhile (a fresh clone's run saw the rest go 3.2 times faster).
    assert 0.2 < eta / (updates[-1][0] - when) < 5.0


def _builds_melody_models() -> bool:
    import inspect

    from sparrow_generation.engine.tiny import build_random_musicgen

    return "melody" in inspect.signature(build_random_musicgen).parameters


@pytest.mark.skipif(not _builds_melody_models(), reason="engine.tiny can't build a melody MusicGen yet")
async def test_a_melody_checkpoint_follows_the_melody_it_is_sent(tmp_path):
    from sparrow_generation.engine.tiny import build_random_musicgen

    server = await start(build_random_musicgen(tmp_path / "tiny-melody", melody=True), window_s=4.0, stride_s=2.4)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}") as channel:
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            capacity = (await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=5)).capacity
            assert capacity.ready and capacity.supports_melody
            # Not C: MusicGen melody's "no melody" is a chroma held on C.
            e_note, a_note = melody_clip(329.63), melody_clip(220.0)
            first = await collect(stub.Generate(melody_request([9], e_note), timeout=60))
            again = await collect(stub.Generate(melody_request([9], e_note), timeout=60))
            other = await collect(stub.Generate(melody_request([9], a_note), timeout=60))
            plain = await collect(stub.Generate(generate_request([9]), timeout=60))
        assert first[1][0] == again[1][0]  # the same seed and melody give the same take
        assert first[1][0] != other[1][0]  # the melody reached the model and steered it
        assert first[1][0] != plain[1][0]
        assert abs(decode(first[1][0], 32000, 1).shape[-1] - 2 * 32000) <= 640
    finally:
        await server.close()


# Three requests of different lengths, seeds and knobs (one of two takes), started
# one after another while the earlier ones are still being written.
STAGGERED = (
    dict(seeds=[21], duration_s=8.0),
    dict(seeds=[22, 23], duration_s=5.0, temperature=0.7, top_k=50, cfg_coef=1.0),
    dict(seeds=[24], duration_s=3.0, top_p=0.8, cfg_coef=5.0, prompt="bright"),
)


async def staggered(stub, requests, cancel: int | None = None):
    """Start each request once the one before it has reported progress; cancel
    request `cancel` once it has too. -> each request's takes (None when cancelled)."""
    calls = []
    for index, asked in enumerate(requests):
        asked = dict(asked)
        call = stub.Generate(generate_request(asked.pop("seeds"), **asked), timeout=120)
        while (reply := await call.read()).WhichOneof("part") != "progress":
            pass
        calls.append(call)
    if cancel is not None:
        calls[cancel].cancel()
    results = []
    for index, call in enumerate(calls):
        if index == cancel:
            results.append(None)
            continue
        results.append((await collect(call))[1])
    return results


async def alone(server, stub, asked) -> tuple[dict, int]:
    """The request's takes when it runs by itself, and the steps the model ran for it."""
    asked = dict(asked)
    before = server.servicer.engine.steps
    _, takes, _ = await collect(stub.Generate(generate_request(asked.pop("seeds"), **asked), timeout=120))
    return takes, server.servicer.engine.steps - before


async def test_requests_in_flight_share_every_step_and_each_take_is_what_it_is_alone(worker):
    server, stub, _ = worker
    by_itself = [await alone(server, stub, asked) for asked in STAGGERED]
    before = server.servicer.engine.steps
    together = await staggered(stub, STAGGERED)
    steps = server.servicer.engine.steps - before
    for (takes, _), shared in zip(by_itself, together, strict=True):
        assert shared == takes  # byte for byte: every take's codes are the ones it gets alone
    longest, total = max(s for _, s in by_itself), sum(s for _, s in by_itself)
    # The model stepped all three together: about as many steps as the longest, not the sum.
    assert steps <= 1.2 * longest < total, (steps, longest, total)


async def test_cancelling_one_request_leaves_the_others_takes_as_they_are(worker):
    server, stub, _ = worker
    by_itself = [await alone(server, stub, asked) for asked in (STAGGERED[0], STAGGERED[2])]
    first, cancelled, last = await staggered(stub, STAGGERED, cancel=1)
    assert cancelled is None
    assert [first, last] == [takes for takes, _ in by_itself]
    # its rows were dropped: nothing is left in flight
    capacity = (await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=5)).capacity
    assert (capacity.busy, capacity.rows_in_flight) == (0, 0)
