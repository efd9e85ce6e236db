"""Replacing a stretch: a take continues a part from from_s and the part comes
back at its rejoin r under an equal-power crossfade centred on r. The spine
then holds [the part to from_s] [the take to r - from_s] [the part again, from
its in point r], and the export keeps the spine's time: it lasts as long as the
part, every sample more than half the crossfade from a join is a clip's own,
the markers fall on the joins, a stems render's stems are cut as their mix, a
loop is cut on the spine's clock; and starts and crossfades that can't be
honoured are refused in words."""

from __future__ import annotations

import io
import struct
import wave
import zipfile

import grpc
import numpy as np
import pytest
from sparrow.v1 import common_pb2, export_pb2

from sparrow_common.audio import split
from sparrow_export.blocks import equal_power_gains
from sparrow_export.render import Window, joins, markers

WAV = export_pb2.RENDER_FORMAT_WAV
RATE = 32000
FROM_S, REJOIN_S, FADE_S = 1.0, 2.5, 0.25
FROM, REJOIN, HALF = round(FROM_S * RATE), round(REJOIN_S * RATE), round(FADE_S * RATE / 2)
NAMES = ("Morning idea", "Part 2: brass", "Morning idea")


def noise(seconds: float, seed: int, channels: int = 1, level: float = 0.2) -> np.ndarray:
    """16-bit samples of noise, (channels, n): distinct per seed, so any sample
    out of place shows."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((channels, round(seconds * RATE))) * level * 32768).clip(-32768, 32767).astype(np.int16)


PART, TAKE = noise(4.0, 1), noise(3.0, 2)


def wav(pcm: np.ndarray) -> bytes:
    """A 16-bit WAV of (channels, n) int16 samples, as they are."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    return buffer.getvalue()


def pcm_of(data: bytes) -> np.ndarray:
    """A 16-bit WAV's samples, (channels, n) int16."""
    with wave.open(io.BytesIO(data)) as file:
        frames = np.frombuffer(file.readframes(file.getnframes()), "<i2")
        return frames.reshape(-1, file.getnchannels()).T


def cues(data: bytes) -> list[int]:
    """The sample offset of every cue point of a WAV (its `cue ` chunk)."""
    at = data.rindex(b"cue ") + 8
    count = struct.unpack("<I", data[at : at + 4])[0]
    return [struct.unpack("<I", data[at + 8 + 24 * i : at + 12 + 24 * i])[0] for i in range(count)]


# The replaced stretch: the part to from_s, the take to the rejoin (its end,
# from_s later), the part again from the rejoin, the crossfade centred there.
REPLACED = dict(clip_ends_s=[FROM_S, REJOIN_S - FROM_S], clip_starts_s=[0, 0, REJOIN_S], clip_fades_s=[0, 0, FADE_S])


def requests(clips, stems=(), loop=None, **setup):
    """clips: the mix's files, or (mix, {stem: file}) with `stems`."""
    options = dict(format=WAV, clip_count=len(clips), crossfade_ms=0, clip_names=NAMES[: len(clips)], stems=stems)
    first = export_pb2.RenderSetup(**{**options, **setup})
    if loop is not None:
        first.loop.CopyFrom(common_pb2.Stretch(from_s=loop[0], until_s=loop[1]))
    yield export_pb2.RenderRequest(setup=first)
    for index, clip in enumerate(clips):
        mix, parts = clip if stems else (clip, {})
        for stem, data in [("", mix), *((stem, parts[stem]) for stem in stems)]:
            for piece in split(data, 16 * 1024):
                yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, stem=stem, data=piece))


def spine(part: np.ndarray = PART, take: np.ndarray = TAKE) -> list[bytes]:
    return [wav(part), wav(take), wav(part)]


async def test_a_replaced_stretch_keeps_the_spines_time_and_every_sample_away_from_the_join(stub, render):
    _, info, data = await render(stub, requests(spine(), **REPLACED))
    out = pcm_of(data)
    part, take = PART.astype(np.int32), TAKE.astype(np.int32)

    # As long as the part: from_s of it, the take to the rejoin, the rest of it.
    assert out.shape == PART.shape
    assert info.duration_s == pytest.approx(PART.shape[-1] / RATE)
    # Before from_s, the part; then the take; after the crossfade, the part,
    # each sample for sample (16-bit in, 16-bit out).
    np.testing.assert_array_equal(out[:, :FROM], PART[:, :FROM])
    np.testing.assert_array_equal(out[:, FROM : REJOIN - HALF], TAKE[:, : REJOIN - HALF - FROM])
    np.testing.assert_array_equal(out[:, REJOIN + HALF :], PART[:, REJOIN + HALF :])
    # Through the crossfade, centred on the rejoin: the take's own audio past
    # its out point fading out under the part's own audio before its in point.
    fade_out, fade_in = equal_power_gains(2 * HALF)
    heard_take = take[:, REJOIN - HALF - FROM : REJOIN + HALF - FROM] / 32768
    mixed = heard_take * fade_out + part[:, REJOIN - HALF : REJOIN + HALF] / 32768 * fade_in
    mixed = np.clip(mixed, -1.0, 1.0)  # as every export is clipped at full scale
    np.testing.assert_allclose(out[:, REJOIN - HALF : REJOIN + HALF] / 32768, mixed, atol=1 / 32768)
    # The markers: where the take starts, and where the part comes back (the join).
    assert cues(data) == [0, FROM, REJOIN]


async def test_a_plain_crossfade_elsewhere_is_as_before(stub, render):
    """crossfade_ms still crossfades the take in at from_s as it always did
    (the spine one crossfade shorter); the centred crossfade stays on the
    rejoin, which comes that much earlier in the file."""
    crossfade = round(0.05 * RATE)
    _, _, data = await render(stub, requests(spine(), crossfade_ms=50, **REPLACED))
    _, _, plain = await render(stub, requests([wav(PART[:, :FROM]), wav(TAKE[:, : REJOIN - FROM])], crossfade_ms=50))
    out = pcm_of(data)
    assert out.shape[-1] == PART.shape[-1] - crossfade
    # Up to the take's last sample before the centred crossfade, the plain two-part export.
    upto = REJOIN - HALF - crossfade
    np.testing.assert_array_equal(out[:, :upto], pcm_of(plain)[:, :upto])
    np.testing.assert_array_equal(out[:, REJOIN + HALF - crossfade :], PART[:, REJOIN + HALF :])
    assert cues(data) == [0, FROM - crossfade, REJOIN - crossfade]


def stems_of(pcm: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Two 16-bit stems adding up to `pcm`: noise, and the rest."""
    drums = noise(pcm.shape[-1] / RATE, seed, pcm.shape[0], level=0.05)
    return {"drums": drums, "keys": (pcm.astype(np.int32) - drums).clip(-32768, 32767).astype(np.int16)}


STEMS = ("drums", "keys")
PART_STEMS, TAKE_STEMS = stems_of(PART, 11), stems_of(TAKE, 12)


def stems_spine() -> list[tuple[bytes, dict[str, bytes]]]:
    part = {name: wav(stem) for name, stem in PART_STEMS.items()}
    take = {name: wav(stem) for name, stem in TAKE_STEMS.items()}
    return [(wav(PART), part), (wav(TAKE), take), (wav(PART), part)]


async def test_every_stem_is_cut_and_crossfaded_as_its_mix(stub, render):
    _, _, data = await render(stub, requests(stems_spine(), stems=STEMS, **REPLACED))
    _, _, mix_alone = await render(stub, requests(spine(), **REPLACED))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    assert list(files) == ["mix.wav", "drums.wav", "keys.wav"]
    assert files["mix.wav"] == mix_alone
    for name in STEMS:
        # Each stem is the export of that stem alone, cut the same: same starts,
        # ends, crossfades and markers.
        _, _, alone = await render(stub, requests(spine(PART_STEMS[name], TAKE_STEMS[name]), **REPLACED))
        assert files[f"{name}.wav"] == alone, name
        assert cues(files[f"{name}.wav"]) == [0, FROM, REJOIN]
    tracks = [pcm_of(files[f"{name}.wav"]).astype(np.int32) for name in STEMS]
    assert np.max(np.abs(sum(tracks) - pcm_of(files["mix.wav"]))) <= 2  # 16-bit roundings


async def test_a_mix_without_a_stem_is_cut_as_its_mix(stub, render):
    _, _, data = await render(stub, requests(stems_spine(), stems=STEMS, without=["drums"], **REPLACED))
    _, _, keys = await render(stub, requests(spine(PART_STEMS["keys"], TAKE_STEMS["keys"]), **REPLACED))
    np.testing.assert_array_equal(pcm_of(data), pcm_of(keys))


async def test_a_loop_across_the_rejoin_is_on_the_spines_clock(stub, render):
    """A loop asked at spine seconds is the whole export's samples there (but
    for its 20 ms wrap), moved by at most 5 ms."""
    _, _, whole = await render(stub, requests(spine(), **REPLACED))
    _, _, looped = await render(stub, requests(spine(), loop=(REJOIN_S - 0.5, REJOIN_S + 0.5), **REPLACED))
    out, loop = pcm_of(whole), pcm_of(looped)
    a, search = round((REJOIN_S - 0.5) * RATE), round(0.005 * RATE)
    body = loop[:, : loop.shape[-1] - round(0.02 * RATE)]
    shifts = [d for d in range(-search, search + 1) if np.array_equal(out[:, a + d : a + d + body.shape[-1]], body)]
    assert len(shifts) == 1, shifts


def test_a_side_short_of_half_the_crossfade_shortens_both_halves():
    """The part comes back 10 ms after its first sample: only 10 ms of it lie
    before the join, so the take plays on 10 ms too and the join stays centred."""
    decoded = [Window(0, 0, FROM, 0), Window(0, 0, REJOIN - FROM, HALF), Window(0, 320, 3 * RATE, 0)]
    windows, seams = joins(decoded, [False, True], crossfade=0)
    assert windows == [Window(0, 0, FROM, 0), Window(0, 0, REJOIN - FROM, 320), Window(0, 320, 3 * RATE, 0)]
    assert seams == [0, 640]
    lengths = [window.length for window in windows]
    marks = markers(lengths, seams, NAMES, [window.lead for window in windows])
    assert [mark.start for mark in marks] == [0, FROM, REJOIN]
    assert sum(lengths) - sum(seams) == REJOIN + 3 * RATE  # the spine's time


def test_a_crossfade_never_takes_more_than_half_a_clips_heard_stretch():
    short = Window(0, HALF, 1000, HALF)  # a 1000-sample part with both crossfades' halves to spare
    windows, seams = joins([Window(0, 0, RATE, HALF), short, Window(0, HALF, RATE, 0)], [True, True], crossfade=0)
    assert seams == [1000, 1000]
    assert windows[1] == Window(HALF - 500, 500, 1000, 500)


def _requests(**setup):
    return lambda: requests(spine(), **setup)


@pytest.mark.parametrize(
    "messages, message",
    [
        (_requests(clip_starts_s=[0, 0, -1.0]), "clip 3 of 3 starts at -1.00 s: a start is a second within the clip"),
        (_requests(clip_starts_s=[float("nan")]), "clip 1 of 3 starts at nan s"),
        (_requests(clip_starts_s=[0, float("inf")]), "clip 2 of 3 starts at inf s"),
        (_requests(clip_starts_s=[0.5], clip_ends_s=[0.5]), "clip 1 of 3 starts at 0.50 s, not before its end at 0.50 s"),
        (_requests(clip_starts_s=[0, 0, 9.0]), "clip 3 of 3 starts at 9.00 s, not before its end at 4.00 s"),
        (_requests(clip_starts_s=[0, 0, 0, 1.0]), "4 clip starts for 3 clips"),
        (_requests(clip_fades_s=[0, 2.5]), "the crossfade into clip 2 of 3 is 2.50 s: a crossfade centred on a join"),
        (_requests(clip_fades_s=[0, 0, -0.1]), "the crossfade into clip 3 of 3 is -0.10 s"),
        (_requests(clip_fades_s=[0, float("nan")]), "the crossfade into clip 2 of 3 is nan s"),
        (_requests(clip_fades_s=[0, 0, 0, 0.1]), "4 clip crossfades for 3 clips"),
    ],
    ids=["negative start", "nan start", "infinite start", "start at its end", "start past the clip",
         "more starts than clips", "crossfade too long", "negative crossfade", "nan crossfade",
         "more crossfades than clips"],
)
async def test_starts_and_crossfades_that_cant_be_honoured_are_refused_in_words(stub, messages, message, render):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await render(stub, messages())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


async def test_the_first_clips_crossfade_is_ignored(stub, render):
    """It has no join before it: whatever it says, nothing changes."""
    _, _, data = await render(stub, requests(spine(), **{**REPLACED, "clip_fades_s": [float("nan"), 0, FADE_S]}))
    _, _, asked = await render(stub, requests(spine(), **REPLACED))
    assert data == asked
