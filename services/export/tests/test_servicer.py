"""The export worker over a real in-process gRPC server: clips of every format,
rate and channel count in, a file that decodes to the right length out."""

from __future__ import annotations

import asyncio
import sys
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sparrow.v1 import common_pb2, export_pb2, export_pb2_grpc

from sparrow_common.audio import decode, encode_wav, probe, split
from sparrow_common.testing.clips import make_clip, silent_flac, tone
from sparrow_common.testing.memory import peak_mib, restart_peak
from sparrow_export.config import Settings
from sparrow_export.render import integrated_loudness
from sparrow_export.server import build_server

WAV, MP3, FLAC = export_pb2.RENDER_FORMAT_WAV, export_pb2.RENDER_FORMAT_MP3, export_pb2.RENDER_FORMAT_FLAC
ROOT_RATE, ROOT_CHANNELS = 44100, 2


async def open_worker(**overrides):
    server = await build_server(Settings(host="127.0.0.1", port=0, **overrides))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.running.port}")
    return server, channel


@pytest.fixture
async def worker():
    server, channel = await open_worker()
    yield export_pb2_grpc.ExportServiceStub(channel), channel
    await channel.close()
    await server.close()


def requests(clips, format=WAV, crossfade_ms=0, normalize=False, clip_count=None, chunk_bytes=16 * 1024):
    yield export_pb2.RenderRequest(
        setup=export_pb2.RenderSetup(
            format=format,
            clip_count=len(clips) if clip_count is None else clip_count,
            crossfade_ms=crossfade_ms,
            normalize=normalize,
        )
    )
    for index, clip in enumerate(clips):
        for chunk in split(clip, chunk_bytes):
            yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, data=chunk))


def quiet_clip(seconds: float, rate: int, channels: int, level: float) -> bytes:
    return encode_wav(tone(seconds, rate, channels) * level, rate)


# The root (a stereo 44.1 kHz WAV) sets the rate and channels; then every other
# upload format at other rates, mono and stereo.
SPINE = [
    ("wav", 1.0, ROOT_RATE, ROOT_CHANNELS),
    ("mp3", 0.8, 32000, 1),
    ("flac", 0.7, 48000, 2),
    ("ogg", 0.6, 48000, 1),
    ("m4a", 0.7, 22050, 2),
    ("aiff", 0.5, 16000, 1),
]


async def test_health_is_serving_at_once(worker):
    _, channel = worker
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    "format, name, content_type", [(WAV, "wav", "audio/wav"), (MP3, "mp3", "audio/mpeg"), (FLAC, "flac", "audio/flac")]
)
async def test_clips_of_every_format_render_at_the_roots_rate_and_channels(worker, tmp_path, format, name, content_type, render):
    stub, _ = worker
    clips = [make_clip(*spec) for spec in SPINE]
    crossfade_ms = 100
    lengths = [decode(clip, ROOT_RATE, ROOT_CHANNELS).shape[-1] for clip in clips]
    expected = sum(lengths) - (len(clips) - 1) * round(crossfade_ms * ROOT_RATE / 1000)

    progress, info, data = await render(stub, requests(clips, format, crossfade_ms=crossfade_ms))

    total = len(clips) + 1
    assert progress == [(step, total) for step in range(1, total + 1)]
    path = tmp_path / f"export.{name}"
    path.write_bytes(data)
    probed = probe(path)
    assert (probed.format, probed.sample_rate, probed.channels) == (name, ROOT_RATE, ROOT_CHANNELS)
    assert (info.format, info.content_type, info.size_bytes) == (name, content_type, len(data))
    assert (info.sample_rate, info.channels) == (ROOT_RATE, ROOT_CHANNELS)
    assert info.duration_s == pytest.approx(expected / ROOT_RATE)
    decoded = decode(data, ROOT_RATE, ROOT_CHANNELS).shape[-1]
    assert abs(decoded - expected) <= (1152 if format == MP3 else 0)


async def test_the_server_answers_other_calls_while_it_renders(worker, render):
    """The heavy work runs in threads: health answers promptly through a long MP3 encode."""
    stub, channel = worker
    health = health_pb2_grpc.HealthStub(channel)
    clips = [make_clip("wav", 12.0, 44100, 2) for _ in range(2)]
    rendering = asyncio.ensure_future(render(stub, requests(clips, MP3, chunk_bytes=256 * 1024)))
    waits = []
    while not rendering.done():
        started = time.perf_counter()
        await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    _, info, _ = await rendering
    assert info.duration_s == pytest.approx(24.0)
    assert len(waits) > 5 and max(waits) < 0.5, waits


async def test_a_mono_root_makes_a_mono_export(worker, render):
    stub, _ = worker
    clips = [make_clip("flac", 0.5, 16000, 1), make_clip("wav", 0.5, 44100, 2)]
    _, info, data = await render(stub, requests(clips, WAV))
    assert (info.sample_rate, info.channels) == (16000, 1)
    assert decode(data, 16000, 1).shape[-1] == 16000


async def test_a_crossfade_longer_than_a_clip_is_clamped_to_half_of_it(worker, render):
    stub, _ = worker
    clips = [make_clip("wav", s, 32000, 1) for s in (1.0, 0.5, 1.0)]
    _, info, data = await render(stub, requests(clips, WAV, crossfade_ms=2000))
    # each seam overlaps half the 0.5 s clip: 2.5 s - 2 x 0.25 s
    assert decode(data, 32000, 1).shape[-1] == 2 * 32000
    assert info.duration_s == pytest.approx(2.0)


async def test_normalize_brings_a_quiet_spine_to_the_roots_loudness(worker, render):
    stub, _ = worker
    root = make_clip("wav", 2.0, 32000, 1)
    spine = [root] + [quiet_clip(2.0, 32000, 1, level=0.3) for _ in range(3)]
    root_lufs = integrated_loudness(decode(root, 32000, 1), 32000)

    _, _, plain = await render(stub, requests(spine, FLAC, crossfade_ms=200))
    _, _, normalized = await render(stub, requests(spine, FLAC, crossfade_ms=200, normalize=True))

    assert integrated_loudness(decode(plain, 32000, 1), 32000) < root_lufs - 3
    assert integrated_loudness(decode(normalized, 32000, 1), 32000) == pytest.approx(root_lufs, abs=1.0)


async def test_one_clip_renders_as_itself(worker, render):
    stub, _ = worker
    clip = make_clip("wav", 1.0, 32000, 1)
    _, info, data = await render(stub, requests([clip], WAV, crossfade_ms=500))
    np.testing.assert_allclose(decode(data, 32000, 1), decode(clip, 32000, 1), atol=1 / 16384)


GOOD = make_clip("wav", 0.5, 32000, 1)


def out_of_order():
    yield from requests([GOOD, GOOD])
    yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=0, data=GOOD))


def no_setup():
    yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=0, data=GOOD))


def skipped_clip():
    yield export_pb2.RenderRequest(setup=export_pb2.RenderSetup(format=WAV, clip_count=3))
    for index in (0, 2):
        yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, data=GOOD))


@pytest.mark.parametrize(
    "messages, message",
    [
        (requests([GOOD], export_pb2.RENDER_FORMAT_UNSPECIFIED), "choose the file format to export: WAV, MP3 or FLAC"),
        (requests([GOOD], 7), "choose the file format"),
        (requests([], WAV), "an export needs at least one clip"),
        (requests([GOOD, GOOD], WAV, clip_count=3), "set up for 3 clips but 2 were sent"),
        (requests([GOOD, GOOD, GOOD], WAV, clip_count=2), "set up for 2 clips but 3 were sent"),
        (requests([GOOD], WAV, crossfade_ms=2500), "the crossfade must be 0 to 2000 ms; 2500 ms"),
        (requests([GOOD], WAV, crossfade_ms=-1), "the crossfade must be 0 to 2000 ms"),
        (requests([GOOD, b"this is a text file, not a song" * 40], WAV),
         "clip 2 of 2 could not be read as audio (invalid data found when processing input)"),
        (requests([GOOD, GOOD[:40]], WAV), "clip 2 of 2"),
        (skipped_clip(), "clip 2 of 3 is empty"),
        (out_of_order(), "clips must be sent in order"),
        (no_setup(), "the first message must be the setup"),
    ],
)
async def test_bad_requests_are_refused_in_words(worker, messages, message, render):
    stub, _ = worker
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await render(stub, messages)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


async def test_clips_past_the_size_limit_are_refused(render):
    server, channel = await open_worker(max_input_bytes=100_000)
    try:
        stub = export_pb2_grpc.ExportServiceStub(channel)
        clips = [make_clip("wav", 1.0, 32000, 1) for _ in range(3)]  # 64 KB each
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await render(stub, requests(clips, WAV))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "the clips add up to more than" in caught.value.details()
    finally:
        await channel.close()
        await server.close()


async def _render_measuring_peak(stub, clips) -> tuple[common_pb2.AudioInfo, int, float]:
    """Render with normalize, counting the file's bytes without keeping them:
    (its info, its size, by how many MiB this process's peak RSS rose)."""
    before = restart_peak()
    info, size = None, 0
    call = stub.Render(requests(clips, WAV, crossfade_ms=250, normalize=True), timeout=120)
    while (reply := await call.read()) is not grpc.aio.EOF:
        if reply.WhichOneof("part") == "info":
            info = reply.info
        elif reply.WhichOneof("part") == "chunk":
            size += len(reply.chunk.data)
    return info, size, peak_mib() - before


@pytest.mark.skipif(sys.platform != "linux", reason="reads and resets peak RSS through /proc")
async def test_a_long_spine_exports_in_bounded_memory(worker):
    """Ten minutes of 48 kHz audio are 110 MiB per float32 copy; decoded, joined,
    measured and encoded whole, an export held several copies at once (and the
    file). Block by block, through files, it holds about a block."""
    stub, _ = worker
    take = quiet_clip(2.0, 32000, 1, 0.5)
    _, _, short_mib = await _render_measuring_peak(stub, [quiet_clip(2.0, 48000, 1, 0.5), take])
    root = silent_flac(600.0, 48000)  # ten minutes in a few hundred kB
    info, size, long_mib = await _render_measuring_peak(stub, [root, take])
    assert (info.sample_rate, info.channels) == (48000, 1)
    assert info.duration_s == pytest.approx(602.0 - 0.25, abs=0.01)
    # 16-bit samples and FFmpeg's WAV header (with its LIST chunk), all sent
    assert size == info.size_bytes and 0 < size - 2 * round(info.duration_s * 48000) < 200
    print(f"peak RSS growth: a 4 s export {short_mib:.0f} MiB, a ten-minute one {long_mib:.0f} MiB")
    assert long_mib < short_mib + 40, (short_mib, long_mib)
