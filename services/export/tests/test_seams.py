"""At every seam of an export: a marker named after the part that starts there,
read back with PyAV (MP3's ID3 chapters, FLAC's CHAPTERnnn comments, which FFmpeg
reads as chapters) and from the WAV's own chunks; and, when asked, no jump in
loudness (every part brought to the root's)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import numpy as np
import pytest

from sparrow_common.audio import encode_wav
from sparrow_export.domain import RenderFormat, RenderJob
from sparrow_export.render import integrated_loudness, render

RATE = 44100
NAMES = ("Morning idea", "Part 2: warm rhodes", "Part 3")


def clip(seconds: float, freq: float, level: float = 0.2) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return encode_wav((level * np.sin(2 * np.pi * freq * t))[None].astype(np.float32), RATE)


async def rendered(format: RenderFormat, crossfade_ms: int, clips=None, **options) -> bytes:
    clips = clips or (clip(2.0, 220), clip(1.5, 330), clip(1.0, 440))
    job = RenderJob(format, clips, crossfade_ms, clip_names=NAMES, **options)
    async for step in render(job):
        if hasattr(step, "path"):
            return Path(step.path).read_bytes()
    raise AssertionError("nothing rendered")


def wav_cues(data: bytes) -> list[tuple[int, str]]:
    """(sample offset, label) of every cue point in a WAV, from its RIFF chunks."""
    assert data[:4] == b"RIFF" and struct.unpack("<I", data[4:8])[0] == len(data) - 8
    at, positions, labels = 12, {}, {}
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        body = data[at + 8 : at + 8 + size]
        if kind == b"cue ":
            for i in range(struct.unpack("<I", body[:4])[0]):
                ident, position = struct.unpack("<II", body[4 + 24 * i : 12 + 24 * i])
                positions[ident] = position
        elif kind == b"LIST" and body[:4] == b"adtl":
            sub = 4
            while sub + 8 <= len(body):
                name, length = body[sub : sub + 4], struct.unpack("<I", body[sub + 4 : sub + 8])[0]
                if name == b"labl":
                    ident = struct.unpack("<I", body[sub + 8 : sub + 12])[0]
                    labels[ident] = body[sub + 12 : sub + 8 + length].rstrip(b"\0").decode()
                sub += 8 + length + length % 2
        at += 8 + size + size % 2
    return [(positions[i], labels[i]) for i in sorted(positions)]


async def test_a_wav_has_a_labelled_cue_point_at_every_seam():
    data = await rendered(RenderFormat.WAV, crossfade_ms=100)
    overlap = int(0.1 * RATE)
    expected = [0, 2 * RATE - overlap, 2 * RATE + int(1.5 * RATE) - 2 * overlap]
    assert wav_cues(data) == list(zip(expected, NAMES, strict=True))
    # The audio is untouched by the chunks after it.
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.audio[0].sample_rate == RATE


@pytest.mark.parametrize("format", [RenderFormat.MP3, RenderFormat.FLAC], ids=["mp3 ID3 chapters", "flac chapter comments"])
async def test_an_mp3_or_flac_has_a_chapter_a_part(format):
    data = await rendered(format, crossfade_ms=0)
    with av.open(io.BytesIO(data)) as container:
        chapters = container.chapters()
    assert [c["metadata"]["title"] for c in chapters] == list(NAMES)
    starts = [float(c["start"] * c["time_base"]) for c in chapters]
    assert starts == pytest.approx([0.0, 2.0, 3.5], abs=0.01)


@pytest.mark.parametrize("match_parts", [False, True], ids=["as they are", "matched"])
async def test_every_part_can_be_brought_to_the_roots_loudness(match_parts):
    # The root at one level, then a part 20 dB quieter and one 10 dB louder.
    parts = (clip(3.0, 220, 0.1), clip(3.0, 330, 0.01), clip(3.0, 440, 0.316))
    data = await rendered(RenderFormat.WAV, 0, clips=parts, match_parts=match_parts)
    with av.open(io.BytesIO(data)) as container:
        audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=-1).astype(np.float32)
    if audio.dtype.kind == "i" or np.abs(audio).max() > 2:
        audio = audio / 32768.0
    loudness = [integrated_loudness(audio[:, i * 3 * RATE : (i + 1) * 3 * RATE], RATE) for i in range(3)]
    steps = [loudness[1] - loudness[0], loudness[2] - loudness[0]]
    if match_parts:
        assert steps == pytest.approx([0.0, 0.0], abs=0.3)
    else:
        assert steps == pytest.approx([-20.0, 10.0], abs=0.3)
