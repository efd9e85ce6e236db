"""Loops: a stretch of the spine exported to repeat with no click. The WAV
carries it in a `smpl` chunk (start 0, end its last sample), lasts as long as
the stretch asked, and wraps from its last sample to its first with no step
larger than the audio's own; stretches that can't be looped are refused in words."""

from __future__ import annotations

import struct

import grpc
import numpy as np
import pytest
from sparrow.v1 import common_pb2, export_pb2

from sparrow_common.audio import decode, encode_wav, split

RATE = 22050


def strummed(seconds: float, freq: float, bpm: float = 120.0) -> np.ndarray:
    """Stereo: a chord struck on every beat, decaying, under a held low note:
    a wave that a cut at an arbitrary sample leaves mid-swing."""
    t = np.arange(round(seconds * RATE)) / RATE
    since = t % (60 / bpm)
    strike = np.minimum(since / 0.005, 1.0) * np.exp(-since * 6)  # a 5 ms attack, then the decay
    chord = sum(np.sin(2 * np.pi * freq * r * t) for r in (1, 1.26, 1.5)) * strike * 0.25
    low = 0.3 * np.sin(2 * np.pi * freq / 2 * t + 0.3)
    return np.stack([chord + low, 0.9 * chord + low]).astype(np.float32)


CLIPS = (encode_wav(strummed(3.0, 220), RATE), encode_wav(strummed(2.5, 247), RATE))


def requests(loop, fmt=export_pb2.RENDER_FORMAT_WAV, crossfade_ms=50, stems=()):
    setup = export_pb2.RenderSetup(format=fmt, clip_count=len(CLIPS), crossfade_ms=crossfade_ms, stems=stems)
    if loop is not None:
        setup.loop.CopyFrom(common_pb2.Stretch(from_s=loop[0], until_s=loop[1]))
    yield export_pb2.RenderRequest(setup=setup)
    for index, data in enumerate(CLIPS):
        for piece in split(data, 16 * 1024):
            yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, data=piece))
        for stem in stems:
            yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, stem=stem, data=data))


def chunks(data: bytes) -> dict[bytes, bytes]:
    """A RIFF file's chunks by id."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8  # the RIFF size mended
    found, at = {}, 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        found[kind] = data[at + 8 : at + 8 + size]
        at += 8 + size + size % 2
    return found


def wrap_step(audio: np.ndarray) -> tuple[float, float]:
    """(the step from the last sample to the first, the median step between neighbours)."""
    step = float(np.abs(audio[:, 0] - audio[:, -1]).max())
    return step, float(np.median(np.abs(np.diff(audio, axis=-1))))


@pytest.mark.parametrize(
    ("loop", "lasts"),
    [
        # The seam at 3 s inside it overlaps its parts by the crossfade (50 ms).
        ((1.0, 3.5), 2.45),
        ((0.0, 2.0), 2.0),
        # The whole spine (5.45 s joined) is crossfaded with itself: 20 ms shorter.
        ((0.0, 5.5), 5.43),
    ],
    ids=["inside", "from-the-start", "whole-spine"],
)
async def test_a_loop_lasts_its_stretch_wraps_with_no_click_and_says_so_in_its_smpl_chunk(stub, render, loop, lasts):
    _, info, data = await render(stub, requests(loop))
    parts = chunks(data)
    audio = decode(data, RATE, 2)
    samples = audio.shape[-1]
    seconds = samples / RATE
    # Within the 5 ms its end may move to meet its start.
    assert abs(seconds - lasts) <= 0.006, seconds
    assert abs(info.duration_s - seconds) < 0.001
    smpl = parts[b"smpl"]
    assert struct.unpack("<9I", smpl[:36])[7] == 1  # one loop
    cue, kind, start, end, _, plays = struct.unpack("<6I", smpl[36:60])
    assert (kind, start, end, plays) == (0, 0, samples - 1, 0)  # forward, the whole file, for ever
    assert b"cue " not in parts  # a loop has no seam markers
    step, usual = wrap_step(audio)
    assert step <= 2 * usual, (step, usual)


async def test_the_same_stretch_cut_plainly_would_click(stub, render):
    """What the loop's making mends: the spine's own samples at the stretch's
    two ends are far apart."""
    _, _, whole = await render(stub, requests(None))
    spine = decode(whole, RATE, 2)
    a, b = round(1.0 * RATE), round(3.5 * RATE) - round(0.05 * RATE)  # one 50 ms seam before 3.5 s
    step, usual = wrap_step(spine[:, a:b])
    assert step > 4 * usual, (step, usual)


async def test_a_flac_loop_lasts_its_stretch(stub, render):
    _, info, data = await render(stub, requests((0.5, 2.5), fmt=export_pb2.RENDER_FORMAT_FLAC))
    assert info.format == "flac" and abs(info.duration_s - 2.0) <= 0.01


@pytest.mark.parametrize(
    ("loop", "stems", "says"),
    [
        ((1.0, 9.0), (), "past the spine's end"),
        ((1.0, 1.1), (), "lasts 0.25 s"),
        ((-1.0, 2.0), (), "from a second"),
        ((float("nan"), 2.0), (), "from a second"),
        ((2.0, 1.0), (), "lasts"),
        ((0.0, 2.0), ("drums",), "without stems"),
    ],
)
async def test_a_stretch_that_cannot_loop_is_refused_in_words(stub, render, loop, stems, says):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await render(stub, requests(loop, stems=stems))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in refused.value.details()


async def test_a_loop_is_the_spines_own_music_between_its_ends(stub, render):
    """Only the wrap's 20 ms are mixed: the rest is the stretch sample for
    sample, moved whole by at most 5 ms."""
    _, _, whole = await render(stub, requests(None))
    _, _, looped = await render(stub, requests((1.0, 2.8)))
    spine, loop = decode(whole, RATE, 2), decode(looped, RATE, 2)
    a, search = round(1.0 * RATE), round(0.005 * RATE)
    body = loop[:, : loop.shape[-1] - round(0.02 * RATE)]
    shifts = [d for d in range(-search, search + 1) if np.array_equal(spine[:, a + d : a + d + body.shape[-1]], body)]
    assert len(shifts) == 1, shifts
