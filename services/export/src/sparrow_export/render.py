"""The audio of an export: read each clip, join them with equal-power crossfades,
match loudness to the root, encode. `render` runs the steps off the event loop,
block by block through files (engine room in blocks.py), and reports progress;
the whole-array forms (join, integrated_loudness, match_loudness, encode) are
the same steps on arrays in memory."""

from __future__ import annotations

import asyncio
import io
import struct
import logging
import tempfile
import wave
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sparrow_common.audio import ACCEPTED
from sparrow_common.errors import InvalidArgument
from sparrow_export.blocks import (
    DecodedClip,
    HeldClip,
    LoudnessMeter,
    ScaledClip,
    decoded_blocks,
    joined_blocks,
    wav_blocks,
)
from sparrow_export.domain import RenderFormat, RenderJob, Rendered, Step, clip_name

log = logging.getLogger(__name__)

# Normalizing never lifts a sample peak above this (dBFS): headroom for the
# inter-sample peaks an MP3 decoder can make, without a limiter's colouring.
PEAK_CEILING_DBFS = -1.0
# BS.1770 gates 400 ms blocks: anything shorter has no integrated loudness.
LOUDNESS_BLOCK_S = 0.4
MP3_BIT_RATE = 192_000
# What an MP3 can hold (MPEG-1, -2 and 2.5 layer III).
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

_CODECS = {RenderFormat.WAV: "pcm_s16le", RenderFormat.MP3: "libmp3lame", RenderFormat.FLAC: "flac"}


# FFmpeg's default probe reads up to 5 MB of packets before decoding starts,
# longer than decoding a whole 36 s WAV takes; every container we take declares
# rate and channels in its header. (This limits only that read: the container's
# format is still detected from up to 1 MiB, past any cover art.)
_OPEN_OPTIONS = {"probesize": "32768"}


@contextmanager
def _opened(data: bytes, name: str) -> Iterator[tuple[av.container.InputContainer, av.audio.stream.AudioStream]]:
    if not data:
        raise InvalidArgument(f"{name} is empty: no audio was sent for it")
    try:
        with av.open(io.BytesIO(data), mode="r", options=_OPEN_OPTIONS) as container:
            if not container.streams.audio:
                raise InvalidArgument(f"{name} has no audio in it; send {ACCEPTED}")
            yield container, container.streams.audio[0]
    except av.error.FFmpegError as error:
        raise InvalidArgument(
            f"{name} could not be read as audio ({error.strerror.lower()}); send {ACCEPTED}"
        ) from None


def clip_shape(data: bytes, index: int, count: int) -> tuple[int, int]:
    """The sample rate and channel count a clip's file declares. Raises
    InvalidArgument naming the clip when it is empty or not audio."""
    name = clip_name(index, count)
    try:
        with wave.open(io.BytesIO(data)) as file:  # a PCM WAV's header, read in microseconds
            rate, channels = file.getframerate(), file.getnchannels()
    except (wave.Error, EOFError):
        with _opened(data, name) as (_, stream):
            rate, channels = stream.sample_rate, stream.channels
    if not rate or not channels:
        raise InvalidArgument(f"{name} does not say its sample rate or channels; send {ACCEPTED}")
    return rate, channels


def output_channels(channels: int) -> int:
    """Exports are mono or stereo: a root with more channels is mixed to stereo."""
    return 1 if channels == 1 else 2


def clip_blocks(data: bytes, sample_rate: int, channels: int, name: str) -> Iterator[np.ndarray]:
    """A clip's samples as float32 (channels, n) blocks at the root's rate and
    channels. Not sparrow_common.audio.decode, for speed, with the same samples:
    16-bit WAV is read straight, and the decoder's probe is kept short."""
    blocks = wav_blocks(data, sample_rate, channels)
    if blocks is not None:
        yield from blocks
        return
    with _opened(data, name) as (container, stream):
        yield from decoded_blocks(container, stream, sample_rate, channels)


def decode_to_file(
    data: bytes, sample_rate: int, channels: int, index: int, count: int, folder: Path
) -> DecodedClip:
    """A clip decoded into a file of `folder` (render's working copy). Raises
    InvalidArgument naming the clip when it can't be used."""
    name = clip_name(index, count)
    clip = DecodedClip(folder / f"clip-{index}.f32", channels)
    try:
        for block in clip_blocks(data, sample_rate, channels, name):
            clip.append(block)
        if clip.length == 0:
            raise InvalidArgument(f"{name} holds no audio: it decodes to 0 seconds")
    except BaseException:
        clip.close()
        raise
    return clip


def decode_clip(data: bytes, sample_rate: int, channels: int, index: int, count: int) -> np.ndarray:
    """A clip as float32 (channels, samples) at the root's rate and channels
    (1 or 2), whole. Raises InvalidArgument naming the clip when it can't be used."""
    name = clip_name(index, count)
    decoded = clip_blocks(data, sample_rate, channels, name)
    blocks = [block.astype(np.float32, copy=False) for block in decoded]
    if not blocks or sum(block.shape[-1] for block in blocks) == 0:
        raise InvalidArgument(f"{name} holds no audio: it decodes to 0 seconds")
    return np.concatenate(blocks, axis=-1)


def crossfade_samples(crossfade_ms: int, sample_rate: int) -> int:
    """The crossfade in samples at `sample_rate`."""
    return round(crossfade_ms * sample_rate / 1000)


def seam_lengths(clip_lengths: Sequence[int], crossfade: int) -> list[int]:
    """The overlap in samples at each seam: `crossfade`, but never more than half
    of the shorter neighbour, so a clip's fade-in and fade-out never meet."""
    return [
        max(0, min(crossfade, before // 2, after // 2))
        for before, after in zip(clip_lengths, clip_lengths[1:])
    ]


def join(clips: Sequence[np.ndarray], crossfade: int) -> np.ndarray:
    """Clips (channels, samples), all at one rate and channel count, end to end
    with an equal-power crossfade of `crossfade` samples (clamped per seam by
    `seam_lengths`) at each seam. The result has sum(lengths) - sum(overlaps)
    samples; 0 is plain concatenation. (What render streams, whole.)"""
    if not clips:
        raise ValueError("nothing to join")
    held = [HeldClip(clip.astype(np.float32, copy=False)) for clip in clips]
    seams = seam_lengths([clip.length for clip in held], crossfade)
    return np.concatenate(list(joined_blocks(held, seams)), axis=-1)


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float | None:
    """EBU R128 integrated loudness (LUFS) of (channels, samples) audio, or None
    when it has none: shorter than one 400 ms block, or silent."""
    return _measured([audio], sample_rate, audio.shape[0]).integrated()


def loudness_gain_db(target_lufs: float, measured_lufs: float, peak: float) -> float:
    """The gain that moves `measured_lufs` to `target_lufs`, lowered when it would
    push the sample `peak` (linear) above PEAK_CEILING_DBFS."""
    gain = target_lufs - measured_lufs
    if peak > 0:
        gain = min(gain, PEAK_CEILING_DBFS - 20 * np.log10(peak))
    return float(gain)


def loudness_gain(target_lufs: float | None, measured_lufs: float | None, peak: float) -> np.float32 | None:
    """The linear gain that brings `measured_lufs` to `target_lufs` (peaks kept
    under PEAK_CEILING_DBFS); None when either loudness is undefined."""
    if target_lufs is None or measured_lufs is None:
        return None
    gain_db = loudness_gain_db(target_lufs, measured_lufs, peak)
    log.debug("loudness %.1f LUFS -> %.1f LUFS: %+.2f dB", measured_lufs, target_lufs, gain_db)
    return np.float32(10 ** (gain_db / 20))


def match_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float | None) -> np.ndarray:
    """`audio` with the gain that brings its integrated loudness to `target_lufs`
    (peaks kept under PEAK_CEILING_DBFS); unchanged when either loudness is undefined."""
    gain = loudness_gain(target_lufs, integrated_loudness(audio, sample_rate), float(np.max(np.abs(audio))))
    return audio if gain is None else audio * gain


def encoded_rate(format: RenderFormat, sample_rate: int) -> int:
    """The rate the file is written at: the audio's own, except for an MP3, which
    only holds MP3_RATES: then the next one up (48 kHz at most)."""
    if format is not RenderFormat.MP3 or sample_rate in MP3_RATES:
        return sample_rate
    return next((rate for rate in MP3_RATES if rate > sample_rate), MP3_RATES[-1])


@dataclass(frozen=True)
class Marker:
    """Where a part starts in the export (its first sample heard, a crossfade's
    start), in samples at the export's own rate, and its name."""

    start: int
    end: int
    name: str


def markers(lengths: Sequence[int], seams: Sequence[int], names: Sequence[str]) -> list[Marker]:
    """One marker a clip, from where it starts to where the next one starts."""
    starts = [0]
    for length, overlap in zip(lengths, seams):
        starts.append(starts[-1] + length - overlap)
    ends = [*starts[1:], starts[-1] + lengths[-1]]
    return [Marker(start, end, name) for start, end, name in zip(starts, ends, names)]


def _timestamp(samples: int, sample_rate: int) -> str:
    seconds = samples / sample_rate
    return f"{int(seconds // 3600):02d}:{int(seconds // 60 % 60):02d}:{seconds % 60:06.3f}"


def _mark(container, format: RenderFormat, marks: Sequence[Marker], sample_rate: int) -> None:
    """Chapters before the header is written: ID3 CHAP frames in an MP3, and
    CHAPTERnnn / CHAPTERnnnNAME comments (the Vorbis chapter convention) in a FLAC."""
    if format is RenderFormat.MP3:
        container.set_chapters([
            {"id": i + 1, "start": m.start, "end": m.end, "time_base": Fraction(1, sample_rate),
             "metadata": {"title": m.name}}
            for i, m in enumerate(marks)
        ])
    elif format is RenderFormat.FLAC:
        for i, m in enumerate(marks, start=1):
            container.metadata[f"CHAPTER{i:03d}"] = _timestamp(m.start, sample_rate)
            container.metadata[f"CHAPTER{i:03d}NAME"] = m.name


def add_cues(path: Path, marks: Sequence[Marker]) -> None:
    """A WAV's markers: a `cue ` chunk with one cue point a part and a
    `LIST`/`adtl` chunk labelling each (`labl`), appended, the RIFF size mended."""
    cue = struct.pack("<I", len(marks)) + b"".join(
        struct.pack("<II4sIII", i + 1, m.start, b"data", 0, 0, m.start) for i, m in enumerate(marks)
    )
    labels = b"adtl"
    for i, m in enumerate(marks):
        text = m.name.encode("utf-8") + b"\0"
        body = struct.pack("<I", i + 1) + text
        labels += b"labl" + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")
    chunks = b"cue " + struct.pack("<I", len(cue)) + cue + b"LIST" + struct.pack("<I", len(labels)) + labels
    with open(path, "r+b") as file:
        file.seek(0, 2)
        if file.tell() % 2:
            file.write(b"\0")
        file.write(chunks)
        size = file.tell()
        file.seek(4)
        file.write(struct.pack("<I", size - 8))


def encode_blocks(
    blocks: Iterable[np.ndarray], sample_rate: int, channels: int, format: RenderFormat, target,
    marks: Sequence[Marker] = (),
) -> int:
    """(channels, n) float blocks, clipped to [-1, 1], written to `target` (a
    path or a binary file) as 16-bit PCM WAV, 16-bit FLAC, or MP3 at
    MP3_BIT_RATE (resampled per `encoded_rate`), with `marks` as chapters in an
    MP3 or FLAC (a WAV's cues are added to its file after: add_cues). -> the
    samples written."""
    layout = "mono" if channels == 1 else "stereo"
    written = 0
    with av.open(target, mode="w", format=format.value) as container:
        stream = container.add_stream(_CODECS[format], rate=encoded_rate(format, sample_rate), layout=layout)
        _mark(container, format, marks, sample_rate)
        if format is RenderFormat.MP3:
            stream.codec_context.bit_rate = MP3_BIT_RATE
        for block in blocks:
            samples = np.ascontiguousarray(np.clip(block, -1.0, 1.0), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            frame.time_base = Fraction(1, sample_rate)
            frame.pts = written
            written += samples.shape[-1]
            # PyAV converts the frames to the encoder's sample format, rate and frame size.
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return written


def encode(audio: np.ndarray, sample_rate: int, format: RenderFormat) -> bytes:
    """(channels, samples) float audio as a file's bytes (see encode_blocks)."""
    buffer = io.BytesIO()
    encode_blocks([audio], sample_rate, audio.shape[0], format, buffer)
    return buffer.getvalue()


def _measured(blocks: Iterable[np.ndarray], sample_rate: int, channels: int) -> LoudnessMeter:
    meter = LoudnessMeter(sample_rate, channels)
    for block in blocks:
        meter.feed(block)
    return meter


def matched_to_first(clips: Sequence[DecodedClip], sample_rate: int, channels: int) -> list:
    """Every clip after the first at the gain that brings its integrated loudness
    to the first's (peaks kept under PEAK_CEILING_DBFS; a clip too short or too
    quiet to measure is left as it is)."""
    target = _measured(clips[0].blocks(), sample_rate, channels).integrated()
    matched = [clips[0]]
    for clip in clips[1:]:
        meter = _measured(clip.blocks(), sample_rate, channels)
        gain = loudness_gain(target, meter.integrated(), meter.peak)
        matched.append(clip if gain is None else ScaledClip(clip, gain))
    return matched


def finish(clips: Sequence[DecodedClip], sample_rate: int, job: RenderJob, path: Path) -> Rendered:
    """Join the decoded clips, match the loudness to the root's if asked (one
    pass to measure, one to write), and encode into `path`, block by block."""
    channels = clips[0].channels
    seams = seam_lengths([clip.length for clip in clips], crossfade_samples(job.crossfade_ms, sample_rate))
    if job.match_parts:
        clips = matched_to_first(clips, sample_rate, channels)
    gain = None
    if job.normalize:
        target = _measured(clips[0].blocks(), sample_rate, channels).integrated()
        joined = _measured(joined_blocks(clips, seams), sample_rate, channels)
        gain = loudness_gain(target, joined.integrated(), joined.peak)
    blocks = joined_blocks(clips, seams)
    if gain is not None:
        blocks = (block * gain for block in blocks)
    marks = markers([clip.length for clip in clips], seams, [job.name_of(i) for i in range(len(clips))])
    samples = encode_blocks(blocks, sample_rate, channels, job.format, path, marks)
    if job.format is RenderFormat.WAV:
        add_cues(path, marks)
    rate = encoded_rate(job.format, sample_rate)
    if rate != sample_rate:
        samples = round(samples * rate / sample_rate)
    return Rendered(
        path=path, size_bytes=path.stat().st_size, format=job.format, sample_rate=rate, channels=channels,
        samples=samples,
    )


async def render(job: RenderJob) -> AsyncIterator[Step | Rendered]:
    """Render `job` in worker threads, yielding a Step as each clip is decoded and
    once the file is encoded, then the Rendered file. The file and the decoded
    clips live in a temporary folder until the caller resumes or closes this
    generator: read the file before. Raises InvalidArgument naming the clip that
    can't be used."""
    count = len(job.clips)

    def shapes() -> list[tuple[int, int]]:
        # Every clip's header first: a bad last clip fails before minutes of decoding.
        return [clip_shape(data, index, count) for index, data in enumerate(job.clips)]

    rate, channels = (await asyncio.to_thread(shapes))[0]
    channels = output_channels(channels)
    total = count + 1
    with tempfile.TemporaryDirectory(prefix="sparrow-export-") as working:
        working = Path(working)
        decoded: list[DecodedClip] = []
        try:
            for index, data in enumerate(job.clips):
                clip = await asyncio.to_thread(decode_to_file, data, rate, channels, index, count, working)
                decoded.append(clip)
                yield Step(index + 1, total)
            path = working / f"export.{job.format.value}"
            rendered = await asyncio.to_thread(finish, decoded, rate, job, path)
            yield Step(total, total)
            yield rendered
        finally:
            for clip in decoded:
                clip.close()
