"""A stems export over a real in-process gRPC server: a zip of the mix and each
stem, every one joined across the spine as a plain export joins the mix, so
the stems still add up to the mix after crossfades, resampling and loudness
gains; and every slip in the stems protocol refused in words."""

from __future__ import annotations

import io
import zipfile

import grpc
import numpy as np
import pytest
from sparrow.v1 import export_pb2

from sparrow_common.audio import decode, encode_wav, split

WAV, MP3 = export_pb2.RENDER_FORMAT_WAV, export_pb2.RENDER_FORMAT_MP3
ROOT_RATE = 22050
STEMS = ("drums", "bass", "vocals")
NAMES = ("Morning idea", "Part 2: warm rhodes", "Part 3")


def stems_of(seconds: float, rate: int, level: float, seed: int) -> dict[str, np.ndarray]:
    """Three stereo stems of a part, each faded in and out and ending in a few
    silent samples (so a stem padded or trimmed there still adds up)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    beat = np.exp(-30 * (t % 0.25))  # a hit every 250 ms, decaying
    stems = {
        "drums": beat * rng.standard_normal((2, n)) * 0.12,
        "bass": np.stack([np.sin(2 * np.pi * 55 * (seed + 1) * t)] * 2) * 0.2,
        "vocals": np.stack([np.sin(2 * np.pi * (440 + 5 * np.sin(2 * np.pi * 5 * t)) * t), np.zeros(n)])
        * 0.15,
    }
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1] - 16).clip(0) / (0.02 * rate))
    return {name: (level * audio * fade).astype(np.float32) for name, audio in stems.items()}


def spine() -> list[tuple[bytes, dict[str, bytes]]]:
    """Three parts: (the mix's file, each stem's file); the second at another
    rate and quieter; the third's bass 9 samples short and vocals 6 long."""
    parts = []
    shapes = [(1.0, ROOT_RATE, 1.0), (0.8, 32000, 0.35), (0.9, ROOT_RATE, 0.8)]
    for seed, (seconds, rate, level) in enumerate(shapes):
        stems = stems_of(seconds, rate, level, seed)
        mix = sum(stems.values())
        if seed == 2:
            stems["bass"] = stems["bass"][:, :-9]
            stems["vocals"] = np.pad(stems["vocals"], ((0, 0), (0, 6)))
        files = {name: encode_wav(audio, rate) for name, audio in stems.items()}
        parts.append((encode_wav(mix, rate), files))
    return parts


SPINE = spine()


def setup(stems=STEMS, format=WAV, **options) -> export_pb2.RenderRequest:
    return export_pb2.RenderRequest(
        setup=export_pb2.RenderSetup(
            format=format, clip_count=len(SPINE), clip_names=NAMES, stems=stems, **options
        )
    )


def chunks(clip: int, data: bytes, stem: str = "") -> list[export_pb2.RenderRequest]:
    return [
        export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=clip, stem=stem, data=piece))
        for piece in split(data, 8 * 1024)
    ]


def requests(stems=STEMS, format=WAV, **options):
    """The spine as the protocol asks: clip by clip, its mix then its stems in
    the setup's order (in several chunks each)."""
    yield setup(stems, format, **options)
    for index, (mix, parts) in enumerate(SPINE):
        yield from chunks(index, mix)
        for stem in stems:
            yield from chunks(index, parts[stem], stem)


def markers_of(wav: bytes) -> bytes:
    """A WAV's marker chunks (`cue ` and its LIST of labels, appended last)."""
    return wav[wav.rindex(b"cue ") :]


@pytest.mark.parametrize(
    "options",
    [dict(normalize=True), dict(normalize=True, match_parts=True)],
    ids=["normalize", "normalize and match_parts"],
)
async def test_the_stems_add_up_to_the_mix_the_spine_exports(stub, options, render):
    """Crossfaded, the second part resampled, its level matched, the whole
    normalized: each stem gets the mix's gains, so they still add up to it."""
    _, plain_info, plain = await render(stub, requests(stems=(), crossfade_ms=150, **options))
    progress, info, data = await render(stub, requests(crossfade_ms=150, **options))

    tracks = 1 + len(STEMS)
    total = tracks * (len(SPINE) + 1)  # each track: its clips decoded, then encoded
    assert progress == [(step, total) for step in range(1, total + 1)]
    assert (info.format, info.content_type, info.size_bytes) == ("zip", "application/zip", len(data))
    assert (info.sample_rate, info.channels, info.duration_s) == (ROOT_RATE, 2, plain_info.duration_s)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["mix.wav", *(f"{stem}.wav" for stem in STEMS)]
        files = {name.removesuffix(".wav"): archive.read(name) for name in archive.namelist()}

    assert files["mix"] == plain  # the mix is the plain export, to the byte
    mix = decode(plain, ROOT_RATE, 2)
    stems = {stem: decode(files[stem], ROOT_RATE, 2) for stem in STEMS}
    assert all(audio.shape == mix.shape for audio in stems.values())
    np.testing.assert_allclose(sum(stems.values()), mix, atol=1e-3)
    # and none of them is the mix itself, or silent
    assert all(0.05 < np.max(np.abs(audio)) < np.max(np.abs(mix)) for audio in stems.values())
    for stem in STEMS:  # the same markers, at the same samples, in every file
        assert markers_of(files[stem]) == markers_of(plain)
    assert all(name.encode() in markers_of(plain) for name in NAMES)


async def test_compressed_stems_are_stored_in_the_zip_at_the_mix_length(stub, render):
    _, _, plain = await render(stub, requests(stems=(), format=MP3, crossfade_ms=100))
    _, info, data = await render(stub, requests(stems=("vocals", "drums"), format=MP3, crossfade_ms=100))

    assert info.format == "zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["mix.mp3", "vocals.mp3", "drums.mp3"]
        assert {entry.compress_type for entry in archive.infolist()} == {zipfile.ZIP_STORED}
        lengths = {decode(archive.read(name), ROOT_RATE, 2).shape[-1] for name in archive.namelist()}
    assert lengths == {decode(plain, ROOT_RATE, 2).shape[-1]}


def _but(change):
    """The good request with `change` made to its list of messages."""
    messages = list(requests())
    change(messages)
    return iter(messages)


def _stem_chunks(messages, clip: int, stem: str) -> list[int]:
    return [
        at for at, m in enumerate(messages)
        if m.WhichOneof("part") == "clip_chunk" and (m.clip_chunk.clip, m.clip_chunk.stem) == (clip, stem)
    ]


def _drop(clip: int, stem: str):
    def change(messages):
        for at in reversed(_stem_chunks(messages, clip, stem)):
            del messages[at]
    return change


def _move_before_mix(clip: int, stem: str):
    def change(messages):
        moved = [messages[at] for at in _stem_chunks(messages, clip, stem)]
        _drop(clip, stem)(messages)
        at = _stem_chunks(messages, clip, "")[0]
        messages[at:at] = moved
    return change


def _rename(clip: int, stem: str, name: str):
    def change(messages):
        for at in _stem_chunks(messages, clip, stem):
            messages[at].clip_chunk.stem = name
    return change


def _swap(clip: int, first: str, second: str):
    def change(messages):
        seconds = [messages[at] for at in _stem_chunks(messages, clip, second)]
        _drop(clip, second)(messages)
        at = _stem_chunks(messages, clip, first)[0]
        messages[at:at] = seconds
    return change


def _stems_without_setup():
    yield setup(stems=())
    for index, (mix, parts) in enumerate(SPINE):
        yield from chunks(index, mix)
        yield from chunks(index, parts["bass"], "bass")


def _too_long():
    def change(messages):
        long = encode_wav(np.zeros((2, int(1.6 * ROOT_RATE)), np.float32), ROOT_RATE)
        at = _stem_chunks(messages, 0, "bass")
        messages[at[0] : at[-1] + 1] = chunks(0, long, "bass")
    return change


def _with_stems(stems):
    """A setup naming `stems`, and every clip sending them."""
    def gen():
        yield setup(stems=stems)
        for index, (mix, parts) in enumerate(SPINE):
            yield from chunks(index, mix)
            for stem in stems:
                yield from chunks(index, parts["drums"], stem)
    return gen


@pytest.mark.parametrize(
    "messages, message",
    [
        (lambda: _but(_rename(1, "bass", "guitar")),
         "a chunk of clip index 1 names the stem 'guitar', which is not among the setup's stems "
         "('drums', 'bass', 'vocals')"),
        (_stems_without_setup, "names the stem 'bass', but the setup asked for no stems"),
        (lambda: _but(_move_before_mix(1, "drums")), "the 'drums' stem of clip index 1 came before its mix"),
        (lambda: _but(_swap(2, "drums", "vocals")),
         "the 'drums' stem of clip index 2 came after its 'vocals' stem: send each clip's mix, "
         "then its stems in the setup's order ('drums', 'bass', 'vocals')"),
        (lambda: _but(_drop(2, "bass")), "clip 3 of 3 has no 'bass' stem: a stems export needs every stem"),
        (lambda: _but(_too_long()), "the 'bass' stem of clip 1 of 3 lasts 1.60 s but the clip 1.00 s"),
        (_with_stems(("drums", "Mix")), "a stem can't be called 'Mix': the mix is mix"),
        (_with_stems(("drums", "Drums")), "the stem 'Drums' is named twice"),
        (_with_stems(("../drums",)), "the stem name '../drums' can't name a file"),
        (_with_stems(("",)), "a stem's name is empty"),
    ],
    ids=["unknown stem", "no stems set up", "stem before mix", "stems out of order", "a stem missing",
         "a stem of another clip", "named mix", "named twice", "a path", "empty"],
)
async def test_bad_stems_requests_are_refused_in_words(stub, messages, message, render):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await render(stub, messages())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


async def test_everything_but_the_drums_is_one_file_of_the_other_stems_joined_as_the_mix(stub, render):
    """The zip's bass and vocals, added up, are what the export without the
    drums answers: one WAV, not a zip, as long as the mix."""
    _, _, zipped = await render(stub, requests(crossfade_ms=150))
    _, info, data = await render(stub, requests(crossfade_ms=150, without=["drums"]))
    assert (info.format, info.content_type) == ("wav", "audio/wav")
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        stems = {stem: decode(archive.read(f"{stem}.wav"), ROOT_RATE, 2) for stem in STEMS}
    without = decode(data, ROOT_RATE, 2)
    assert abs(without.shape[-1] - stems["bass"].shape[-1]) <= 2
    n = min(without.shape[-1], stems["bass"].shape[-1])
    np.testing.assert_allclose(without[:, :n], (stems["bass"] + stems["vocals"])[:, :n], atol=2e-3)
    assert np.max(np.abs(without[:, :n] - (stems["bass"] + stems["vocals"] + stems["drums"])[:, :n])) > 0.05


@pytest.mark.parametrize(
    ("without", "says"),
    [(["guitar"], "no 'guitar' stem"), (["drums", "drums"], "named twice"), (list(STEMS), "leaves nothing")],
)
async def test_stems_that_cannot_be_left_out_are_refused_in_words(stub, render, without, says):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await render(stub, requests(without=without))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in refused.value.details()
