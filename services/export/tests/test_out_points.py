"""Out points: a part continued from inside it plays only up to there. The
clips come whole with `clip_ends_s`, and the export is the one of the clips cut
at their out points: to the byte, crossfades, loudness, markers and stems
included, with nothing of a clip after its out point heard; and ends that
can't be honoured are refused in words."""

from __future__ import annotations

import io
import struct
import zipfile

import grpc
import numpy as np
import pytest
from sparrow.v1 import export_pb2

from sparrow_common.audio import decode, encode_wav, split
from sparrow_export import render as rendering
from sparrow_export.blocks import BLOCK_FRAMES, equal_power_gains
from sparrow_export.domain import RenderFormat, RenderJob, Rendered

WAV = export_pb2.RENDER_FORMAT_WAV
RATE = 22050
CROSSFADE_MS = 100
XF = round(CROSSFADE_MS * RATE / 1000)
END_S = 1.25  # the first part's out point, of its 2 s
OUT = round(END_S * RATE)
NAMES = ("Morning idea", "Part 2: warm rhodes", "Part 3")


def sine(seconds: float, freq: float, level: float, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.stack([level * np.sin(2 * np.pi * freq * t)] * channels).astype(np.float32)


def continued_root(channels: int = 1) -> np.ndarray:
    """2 s: a quiet 440 Hz up to the out point, then a loud 1 kHz the spine
    must never play (it is what the musician continued away from)."""
    heard, unheard = sine(2.0, 440, 0.2, channels), sine(2.0, 1000, 0.9, channels)
    heard[:, OUT:] = unheard[:, OUT:]
    return heard


CLIPS = (continued_root(), sine(1.0, 220, 0.3), sine(0.8, 330, 0.25))


def requests(clips, ends=(), stems=(), **options):
    """clips: the mix's files, or (mix, {stem: file}) in a stems render."""
    yield export_pb2.RenderRequest(setup=export_pb2.RenderSetup(
        format=WAV, clip_count=len(clips), crossfade_ms=CROSSFADE_MS, clip_names=NAMES[: len(clips)],
        clip_ends_s=ends, stems=stems, **options,
    ))
    for index, clip in enumerate(clips):
        mix, parts = clip if stems else (clip, {})
        for stem, data in [("", mix), *((stem, parts[stem]) for stem in stems)]:
            for piece in split(data, 16 * 1024):
                yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, stem=stem, data=piece))


def wavs(clips) -> list[bytes]:
    return [encode_wav(clip, RATE) for clip in clips]


def cues(wav: bytes) -> list[int]:
    """The sample offset of every cue point of a WAV (its `cue ` chunk)."""
    at = wav.rindex(b"cue ") + 8
    count = struct.unpack("<I", wav[at : at + 4])[0]
    return [struct.unpack("<I", wav[at + 8 + 24 * i : at + 12 + 24 * i])[0] for i in range(count)]


@pytest.mark.parametrize(
    "options", [{}, dict(normalize=True, match_parts=True)], ids=["as they are", "normalized and matched"]
)
async def test_a_part_plays_up_to_its_out_point_and_the_next_crossfades_in_there(stub, options, render):
    # 0 and a list shorter than the clips: the other parts play whole
    _, info, data = await render(stub, requests(wavs(CLIPS), ends=[END_S, 0.0], **options))
    cut = wavs([CLIPS[0][:, :OUT], *CLIPS[1:]])
    _, _, as_if_cut = await render(stub, requests(cut, **options))

    # The export of the clip cut at its out point, to the byte: the seam's
    # crossfade, the loudness measured (the unheard loud tail weighs nothing)
    # and the markers are all of what is heard.
    assert data == as_if_cut
    lengths = [OUT, CLIPS[1].shape[-1], CLIPS[2].shape[-1]]
    assert info.duration_s == pytest.approx((sum(lengths) - 2 * XF) / RATE)
    assert cues(data) == [0, OUT - XF, OUT + lengths[1] - 2 * XF]
    if options:
        return
    audio = decode(data, RATE, 1)
    assert audio.shape[-1] == sum(lengths) - 2 * XF
    # Up to the seam, the root as it was before its out point; through it, the
    # root's last 100 ms before the out point under the next part's first.
    root, part = CLIPS[0], CLIPS[1]
    np.testing.assert_allclose(audio[:, : OUT - XF], root[:, : OUT - XF], atol=2 / 32768)
    fade_out, fade_in = equal_power_gains(XF)
    seam = root[:, OUT - XF : OUT] * fade_out + part[:, :XF] * fade_in
    np.testing.assert_allclose(audio[:, OUT - XF : OUT], seam, atol=3 / 32768)  # three 16-bit roundings
    # and nothing of the loud 1 kHz after it, anywhere
    assert np.max(np.abs(audio)) < 0.45


async def test_a_part_cut_shorter_than_the_crossfade_is_clamped_like_a_short_clip(stub, render):
    """Cut to 80 ms under a 100 ms crossfade, the middle part is a clip of 80
    ms: each of its seams overlaps half of it, so it is still heard."""
    short = round(0.08 * RATE)
    _, info, data = await render(stub, requests(wavs(CLIPS), ends=[0, 0.08]))
    _, _, as_if_cut = await render(stub, requests(wavs([CLIPS[0], CLIPS[1][:, :short], CLIPS[2]])))
    assert data == as_if_cut
    lengths = [CLIPS[0].shape[-1], short, CLIPS[2].shape[-1]]
    overlap = short // 2
    assert decode(data, RATE, 1).shape[-1] == sum(lengths) - 2 * overlap
    assert cues(data) == [0, lengths[0] - overlap, lengths[0] + short - 2 * overlap]


async def test_an_end_a_little_past_the_clip_is_its_end(stub, render):
    """A length measured elsewhere, rounded: within 10 ms, the whole clip."""
    _, _, data = await render(stub, requests(wavs(CLIPS), ends=[0, 1.008, 0.8]))
    _, _, whole = await render(stub, requests(wavs(CLIPS)))
    assert data == whole


def stems_of(clip: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Two stems adding up to `clip` (stereo): noise, and the rest."""
    noise = np.random.default_rng(seed).standard_normal(clip.shape).astype(np.float32) * 0.05
    return {"drums": noise, "keys": clip - noise}


def stems_spine(clips) -> list[tuple[bytes, dict[str, bytes]]]:
    stereo = [np.concatenate([clip, clip * 0.5]) for clip in clips]
    return [
        (encode_wav(mix, RATE), {name: encode_wav(stem, RATE) for name, stem in stems_of(mix, seed).items()})
        for seed, mix in enumerate(stereo)
    ]


def cut_stems_spine() -> list[tuple[bytes, dict[str, bytes]]]:
    """stems_spine(CLIPS) with the root and its stems cut at the out point."""
    whole = [np.concatenate([clip, clip * 0.5]) for clip in CLIPS]
    spine = stems_spine(CLIPS)
    root = whole[0][:, :OUT]
    spine[0] = (
        encode_wav(root, RATE),
        {name: encode_wav(stem[:, :OUT], RATE) for name, stem in stems_of(whole[0], 0).items()},
    )
    return spine


async def test_every_stem_is_cut_where_its_mix_is(stub, render):
    stems = ("drums", "keys")
    _, info, data = await render(stub, requests(stems_spine(CLIPS), ends=[END_S], stems=stems, normalize=True))
    _, _, as_if_cut = await render(stub, requests(cut_stems_spine(), stems=stems, normalize=True))

    lengths = OUT + CLIPS[1].shape[-1] + CLIPS[2].shape[-1] - 2 * XF
    assert info.duration_s == pytest.approx(lengths / RATE)
    with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(io.BytesIO(as_if_cut)) as expected:
        assert archive.namelist() == ["mix.wav", "drums.wav", "keys.wav"]
        files = {name: archive.read(name) for name in archive.namelist()}
        assert files == {name: expected.read(name) for name in expected.namelist()}
    mix = decode(files["mix.wav"], RATE, 2)
    tracks = [decode(files[f"{stem}.wav"], RATE, 2) for stem in stems]
    assert all(track.shape == mix.shape == (2, lengths) for track in tracks)
    np.testing.assert_allclose(sum(tracks), mix, atol=1e-3)
    assert all(cues(files[name]) == [0, OUT - XF, lengths - CLIPS[2].shape[-1]] for name in files)


async def test_reading_a_clip_stops_at_its_out_point(monkeypatch):
    """A long take continued after a second is decoded for that second, not for
    its whole length (the spine's time and disk are what is heard)."""
    pulled = []
    blocks = rendering.clip_blocks

    def counted(*args):
        for block in blocks(*args):
            pulled.append(block.shape[-1])
            yield block

    monkeypatch.setattr(rendering, "clip_blocks", counted)
    long = encode_wav(sine(60.0, 440, 0.2), RATE)
    job = RenderJob(RenderFormat.WAV, (long, encode_wav(CLIPS[1], RATE)), clip_ends_s=(1.0,))
    async for step in rendering.render(job):
        if isinstance(step, Rendered):
            assert step.samples == RATE + CLIPS[1].shape[-1]
    assert sum(pulled) < RATE + CLIPS[1].shape[-1] + BLOCK_FRAMES


def _short_stem():
    spine = stems_spine(CLIPS)
    _, parts = spine[0]
    parts["keys"] = encode_wav(np.zeros((2, round(0.6 * RATE)), np.float32), RATE)
    return requests(spine, ends=[END_S], stems=("drums", "keys"))


@pytest.mark.parametrize(
    "messages, message",
    [
        (lambda: requests(wavs(CLIPS), ends=[0, 1.5]), "clip 2 of 3 ends at 1.50 s but lasts 1.00 s"),
        (lambda: requests(wavs(CLIPS), ends=[-0.5]), "clip 1 of 3 ends at -0.50 s: an end is a second within"),
        (lambda: requests(wavs(CLIPS), ends=[0, 0, float("nan")]), "clip 3 of 3 ends at nan s"),
        (lambda: requests(wavs(CLIPS), ends=[float("inf")]), "clip 1 of 3 ends at inf s"),
        (lambda: requests(wavs(CLIPS), ends=[1.0, 0.5, 0.5, 0.5]), "4 clip ends for 3 clips"),
        (lambda: requests(wavs(CLIPS), ends=[1e-6]), "clip 1 of 3 ends at 1e-06 s, before its first sample"),
        (_short_stem, "the 'keys' stem of clip 1 of 3 lasts 0.60 s but the clip is heard to 1.25 s"),
    ],
    ids=["past the clip", "negative", "nan", "infinite", "more ends than clips", "before the first sample",
         "a stem short of the out point"],
)
async def test_ends_that_cant_be_honoured_are_refused_in_words(stub, messages, message, render):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await render(stub, messages())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()
