"""The audio of an export: read each clip, join them with equal-power crossfades,
match loudness to the root, encode. `render` runs the steps off the event loop,
block by block through files (engine room in blocks.py), and reports progress;
the whole-array forms (join, integrated_loudness, match_loudness, encode) are
the same steps on arrays in memory.

A clip with an out point (a part continued from inside it) is cut there as it
is decoded, and decoding stops there: every later step (seams, loudness,
markers, a stems render's stems) sees only what the spine plays: the samples
of the whole clip decoded and then cut.

A clip with an in point (the rest of a part whose stretch a take replaced,
RenderJob.clip_starts_s) is decoded from there, its earlier samples read and
dropped. A join with a centred crossfade (clip_fades_s) is crossfaded on
either side of it: the clip before is decoded on past its out point, and the
clip after from before its in point, by half the crossfade each, and the
seam overlaps exactly those extra samples (a `Window` says what of a decoded
clip is joined). The join stays where the spine has it: the spine's time, its
markers and a loop's stretch are all counted in what is heard, and every
sample more than half the crossfade from the join is the clip's own.

A stems render joins each stem across the spine as the mix is joined, and zips
the files. Everything but the samples is decided once, on the mix (`Levels`:
the seams, every loudness gain, the markers) and applied to every track alike:
the join is linear, so stems that add up to their clip's mix add up to the
export's mix. Measured per stem, the gains would differ and the stems would no
longer sum to the mix."""

from __future__ import annotations

import asyncio
import io
import struct
import logging
import tempfile
import wave
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sparrow_common.audio import ACCEPTED, decode
from sparrow_common.errors import InvalidArgument
from sparrow_export.blocks import (
    DecodedClip,
    HeldClip,
    LoudnessMeter,
    ScaledClip,
    WindowedClip,
    decoded_blocks,
    joined_blocks,
    wav_blocks,
)
from sparrow_export.domain import MIX, RenderFormat, RenderJob, Rendered, Step, clip_name, track_name
from sparrow_export.loop import CROSSFADE_MS, SEARCH_MS, gather, joined_at, seamless

log = logging.getLogger(__name__)

# Normalizing never lifts a sample peak above this (dBFS): headroom for the
# inter-sample peaks an MP3 decoder can make, without a limiter's colouring.
PEAK_CEILING_DBFS = -1.0
# BS.1770 gates 400 ms blocks: anything shorter has no integrated loudness.
LOUDNESS_BLOCK_S = 0.4
MP3_BIT_RATE = 192_000
# What an MP3 can hold (MPEG-1, -2 and 2.5 layer III).
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

# A stem lasts as long as its clip's mix, give or take resampling's rounding:
# within this it is padded with silence or trimmed to line up; past it, it is
# not that clip's stem and the render is refused.
STEM_SLACK_S = 0.5
# An out point this far past its clip's decoded end is its end: a length the
# chain measured at another rate, or rounded. Past it, the clip is not the one
# the out point was set on, and the render is refused.
END_SLACK_S = 0.01

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


def clip_shape(data: bytes, index: int, count: int, stem: str = "") -> tuple[int, int]:
    """The sample rate and channel count a clip's file (its mix, or `stem`)
    declares. Raises InvalidArgument naming the clip when it is empty or not audio."""
    name = track_name(stem, index, count)
    try:
        with wave.open(io.BytesIO(data)) as file:  # a PCM WAV's header, read in microseconds
            rate, channels = file.getframerate(), file.getnchannels()
    except (wave.Error, EOFError):
        with _opened(data, name) as (_, stream):
            rate, channels = stream.sample_rate, stream.channels
    if not rate or not channels:
        raise InvalidArgument(f"{name} does not say its sample rate or channels; send {ACCEPTED}")
    return rate, channels


def stems_summed(mix: bytes, stems: Sequence[bytes]) -> bytes:
    """One clip's `stems` (their files) summed into one WAV at the stems' own
    rate and channels (a take's stems are stereo where it is mono), as long as
    its `mix` (each stem padded or trimmed to it, as a stems render does): the
    clip's mix without the stems left out (RenderSetup.without)."""
    rate, channels = clip_shape(stems[0], 0, 1)
    length = decode(mix, rate, channels).shape[-1]
    total = np.zeros((channels, length), dtype=np.float32)
    for data in stems:
        audio = decode(data, rate, channels)[:, :length]
        total[:, : audio.shape[-1]] += audio
    # As floats: stems can add up past full scale, which the join's gains may bring back.
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_f32le", rate=rate, layout="mono" if channels == 1 else "stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(total), format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)
    return buffer.getvalue()


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


def _read_into(clip: DecodedClip, blocks: Iterator[np.ndarray], first: int, stop: int | None) -> int:
    """`blocks` from sample `first` appended to `clip`, up to sample `stop`
    (None: all of them): reading stops there, so the rest of the file is never
    decoded, and what comes before `first` is read and dropped. -> the samples
    read (`stop` at most): where the clip ends in its own audio, as read."""
    at = 0
    with closing(blocks):
        for block in blocks:
            size = block.shape[-1]
            upto = size if stop is None else min(size, stop - at)
            if upto > first - at:
                clip.append(block[:, max(first - at, 0) : upto])
            at += upto
            if stop is not None and at >= stop:
                break
    return at


@dataclass(frozen=True)
class Reach:
    """What of a clip's audio is decoded, in samples at the root's rate: from
    `first` (its in point `start`, less half its join's centred crossfade) to
    `stop` (its out point `end`, plus half the next join's; None, like an `end`
    of None: its last sample)."""

    first: int
    start: int
    end: int | None
    stop: int | None

    def window(self, length: int) -> Window:
        """Where the heard stretch lies in the `length` samples decoded from
        `first`: a clip shorter than its out point plus half the next join's
        crossfade has that much less past its out point, or none."""
        total = self.first + length
        end = total if self.end is None else min(self.end, total)
        return Window(offset=0, lead=self.start - self.first, heard=end - self.start, trail=total - end)


def reach(
    sample_rate: int, end_s: float = 0.0, start_s: float = 0.0, fade_in_s: float = 0.0, fade_out_s: float = 0.0,
) -> Reach:
    """What of a clip to decode: from its in point `start_s` (0: its first
    sample) less half `fade_in_s`, the centred crossfade of its join with the
    clip before (not before its first sample), to its out point `end_s` (0: its
    end) plus half `fade_out_s`, the next join's (not past its last sample)."""
    start = round(start_s * sample_rate)
    end = round(end_s * sample_rate) if end_s else None
    first = max(start - round(fade_in_s * sample_rate / 2), 0)
    stop = None if end is None else end + round(fade_out_s * sample_rate / 2)
    return Reach(first, start, end, stop)


def decode_to_file(
    data: bytes, sample_rate: int, channels: int, index: int, count: int, folder: Path,
    stem: str = "", length: int | None = None, end_s: float = 0.0, start_s: float = 0.0,
    fade_in_s: float = 0.0, fade_out_s: float = 0.0,
) -> DecodedClip:
    """A clip (its mix, or `stem`) decoded into a file of `folder` (render's
    working copy), from its in point `start_s` to its out point `end_s` (0:
    its first sample, its end; a stem's are its mix's), each widened by half
    the centred crossfade of the join there (`fade_in_s` before, `fade_out_s`
    after, as `reach` says; the heard stretch in it: `reach(...).window`);
    padded with silence or trimmed to `length` samples when given (a stem, to
    its mix's length as decoded) and off by at most STEM_SLACK_S. Raises
    InvalidArgument naming the clip when it can't be used, when its mix ends
    more than END_SLACK_S before `end_s` (within that, it plays to its end),
    or when it ends at or before its in point."""
    name = track_name(stem, index, count)
    where = reach(sample_rate, end_s, start_s, fade_in_s, fade_out_s)
    if where.end == 0:
        raise InvalidArgument(
            f"{name} ends at {end_s:g} s, before its first sample: nothing of it would be heard "
            "(0 means the whole clip)"
        )
    clip = DecodedClip(folder / f"{stem or MIX}-{index}.f32", channels)
    try:
        total = _read_into(clip, clip_blocks(data, sample_rate, channels, name), where.first, where.stop)
        if total == 0:
            raise InvalidArgument(f"{name} holds no audio: it decodes to 0 seconds")
        if length is not None:
            _fit_stem(clip, length, where, total, sample_rate, name)
        else:
            _check_reach(where, total, sample_rate, name, end_s, start_s)
    except BaseException:
        clip.close()
        raise
    return clip


def _fit_stem(clip: DecodedClip, length: int, where: Reach, total: int, sample_rate: int, name: str) -> None:
    """A stem padded with silence or trimmed to its mix's `length` samples as
    decoded; InvalidArgument when it is off by more than STEM_SLACK_S (its
    lengths said in its own seconds, `total` being where it ends as read)."""
    if clip.length == length:
        return
    if abs(clip.length - length) > STEM_SLACK_S * sample_rate:
        mix = f"{(where.first + length) / sample_rate:.2f} s"
        raise InvalidArgument(
            f"{name} lasts {total / sample_rate:.2f} s but the clip "
            f"{mix if where.stop is None else 'is heard to ' + mix}: send the stems split from that clip"
        )
    clip.fit(length)


def _check_reach(where: Reach, total: int, sample_rate: int, name: str, end_s: float, start_s: float) -> None:
    """InvalidArgument when a clip's mix, read to `total` samples of its own
    audio, ends more than END_SLACK_S before its out point, or leaves nothing
    between its in point and its end."""
    if where.end is not None and where.end - total > END_SLACK_S * sample_rate:
        raise InvalidArgument(f"{name} ends at {end_s:.2f} s but lasts {total / sample_rate:.2f} s")
    if where.window(max(total - where.first, 0)).heard <= 0:
        ends = (
            f"its end at {end_s:.2f} s" if where.end is not None and where.end <= total
            else f"its end at {total / sample_rate:.2f} s"
        )
        raise InvalidArgument(
            f"{name} starts at {start_s:.2f} s, not before {ends}: nothing of it would be heard"
        )


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


@dataclass(frozen=True)
class Window:
    """What of a decoded clip is joined: from sample `offset` of it, `lead`
    samples before its in point (half its join's centred crossfade), the
    `heard` samples the spine plays, and `trail` samples past its out point
    (half the next join's centred crossfade)."""

    offset: int
    lead: int
    heard: int
    trail: int

    @property
    def length(self) -> int:
        return self.lead + self.heard + self.trail


def centred_halves(decoded: Sequence[Window], centred: Sequence[bool]) -> list[int]:
    """Half of each join's centred crossfade in samples, as it can be had
    (centred[i]: whether the join of clip i and clip i + 1 has one; `decoded`:
    each clip as decoded, `Reach.window`). Each side overlaps the other by the
    same number of samples, so the join stays centred: what the clip before
    has past its out point or the clip after before its in point, whichever
    is fewer (an in point near a part's first sample, or a clip played to its
    last, shortens the crossfade, to a plain cut at worst); and at most half
    of either clip's heard stretch, so no clip's fade-in and fade-out meet."""
    return [
        min(before.trail, after.lead, before.heard // 2, after.heard // 2) if is_centred else 0
        for before, after, is_centred in zip(decoded, decoded[1:], centred)
    ]


def joins(
    decoded: Sequence[Window], centred: Sequence[bool], crossfade: int,
) -> tuple[list[Window], list[int]]:
    """What of each decoded clip is joined (its heard stretch, with the halves
    of the centred crossfades at its joins, `centred_halves`) and the overlap
    at each seam: a centred crossfade's two halves, exactly the samples each
    clip brings from beyond its cut; elsewhere `crossfade` (crossfade_ms),
    clamped by `seam_lengths` to what the clips' centred crossfades leave of
    them (all of them where there are none)."""
    halves = centred_halves(decoded, centred)
    windows = []
    for index, clip in enumerate(decoded):
        lead = halves[index - 1] if index else 0
        trail = halves[index] if index < len(halves) else 0
        windows.append(Window(clip.offset + clip.lead - lead, lead, clip.heard, trail))
    plain = seam_lengths([window.heard - window.lead - window.trail for window in windows], crossfade)
    seams = [2 * half if is_centred else seam for half, is_centred, seam in zip(halves, centred, plain)]
    return windows, seams


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
    """Where a part starts in the export (its first sample heard: a plain
    crossfade's start, or a centred crossfade's middle, its join), in samples
    at the export's own rate, and its name."""

    start: int
    end: int
    name: str


def markers(
    lengths: Sequence[int], seams: Sequence[int], names: Sequence[str], leads: Sequence[int] = (),
) -> list[Marker]:
    """One marker a clip, from where it starts to where the next one starts:
    its first sample joined, or `leads[i]` samples on (the first half of a
    centred crossfade, so the marker falls on the join)."""
    starts = [0]
    for length, overlap in zip(lengths, seams):
        starts.append(starts[-1] + length - overlap)
    end = starts[-1] + lengths[-1]
    starts = [start + (leads[index] if index < len(leads) else 0) for index, start in enumerate(starts)]
    ends = [*starts[1:], end]
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
    append_chunks(path, b"cue " + struct.pack("<I", len(cue)) + cue + b"LIST" + struct.pack("<I", len(labels)) + labels)


def append_chunks(path: Path, chunks: bytes) -> None:
    """RIFF chunks appended to a WAV (word-aligned), its RIFF size mended."""
    with open(path, "r+b") as file:
        file.seek(0, 2)
        if file.tell() % 2:
            file.write(b"\0")
        file.write(chunks)
        size = file.tell()
        file.seek(4)
        file.write(struct.pack("<I", size - 8))


def add_loop(path: Path, samples: int, sample_rate: int) -> None:
    """A WAV's loop: a `smpl` chunk with one forward loop from sample 0 to its
    last, played for ever."""
    header = struct.pack(
        "<9I",
        0, 0,  # manufacturer, product: none
        round(1e9 / sample_rate),  # the sample period in nanoseconds
        60, 0,  # the unity note (middle C), no fine tuning
        0, 0,  # no SMPTE offset
        1, 0,  # one loop, no sampler data
    )
    loop = struct.pack("<6I", 0, 0, 0, max(samples - 1, 0), 0, 0)  # cue id, forward, start, end, fraction, for ever
    append_chunks(path, b"smpl" + struct.pack("<I", len(header + loop)) + header + loop)


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


@dataclass(frozen=True)
class Levels:
    """All of a render but the samples, decided once from the mix's clips and
    applied to every track alike (the mix and each stem), so the stems add up
    to the mix: the overlap at each seam, each clip's gain to the root's
    loudness (match_parts; None: as it is), the whole's gain to the root's
    loudness under the peak ceiling (normalize; None: as it is), the markers,
    and what of each decoded clip is joined."""

    seams: list[int]
    clip_gains: list[np.float32 | None]
    gain: np.float32 | None
    marks: list[Marker]
    windows: list[Window]


def _windowed(clips: Sequence[DecodedClip], windows: Sequence[Window]) -> list[WindowedClip]:
    return [WindowedClip(clip, window.offset, window.length) for clip, window in zip(clips, windows)]


def _scaled(clips: Sequence[DecodedClip], gains: Sequence[np.float32 | None]) -> list:
    return [clip if gain is None else ScaledClip(clip, gain) for clip, gain in zip(clips, gains)]


def levels(
    clips: Sequence[DecodedClip], decoded: Sequence[Window], sample_rate: int, job: RenderJob,
) -> Levels:
    """The seams, windows, gains and markers of a render from its mix's
    decoded clips (`decoded`: where each one's heard stretch lies; `joins`
    makes the windows and seams), measured on what of them is joined: with
    match_parts, every clip after the root at the gain that brings its
    integrated loudness to the root's; with normalize, the joined result at the
    gain that brings it to the root's; each gain lowered to keep the mix's
    sample peak under PEAK_CEILING_DBFS, and none for audio too short or too
    quiet to measure. One pass over the clips (and one over the join) to measure."""
    channels = clips[0].channels
    centred = [job.fade_of(index) > 0 for index in range(1, len(clips))]
    windows, seams = joins(decoded, centred, crossfade_samples(job.crossfade_ms, sample_rate))
    joined_clips = _windowed(clips, windows)
    clip_gains: list[np.float32 | None] = [None] * len(clips)
    target = None
    if job.match_parts or job.normalize:
        target = _measured(joined_clips[0].blocks(), sample_rate, channels).integrated()
    if job.match_parts:
        for index, clip in enumerate(joined_clips[1:], start=1):
            meter = _measured(clip.blocks(), sample_rate, channels)
            clip_gains[index] = loudness_gain(target, meter.integrated(), meter.peak)
    gain = None
    if job.normalize:
        joined = _measured(joined_blocks(_scaled(joined_clips, clip_gains), seams), sample_rate, channels)
        gain = loudness_gain(target, joined.integrated(), joined.peak)
    names = [job.name_of(i) for i in range(len(clips))]
    marks = markers([window.length for window in windows], seams, names, [window.lead for window in windows])
    return Levels(seams, clip_gains, gain, marks, windows)


def write_track(
    clips: Sequence[DecodedClip], shared: Levels, sample_rate: int, format: RenderFormat, path: Path,
    loop: tuple[float, float] | None = None,
) -> int:
    """One track's decoded clips (the mix's or a stem's, each as long as the
    mix's) cut to the `shared` windows, joined at its seams and gains and
    encoded into `path` with its markers, block by block; with `loop`, that
    stretch of the spine alone, made to repeat (sparrow_export.loop). ->
    samples per channel, at the file's rate."""
    blocks = joined_blocks(_scaled(_windowed(clips, shared.windows), shared.clip_gains), shared.seams)
    if shared.gain is not None:
        blocks = (block * shared.gain for block in blocks)
    if loop is not None:
        audio = _loop(blocks, shared.windows, shared.seams, sample_rate, loop)
        samples = encode_blocks([audio], sample_rate, clips[0].channels, format, path)
        if format is RenderFormat.WAV:
            add_loop(path, samples, sample_rate)
    else:
        samples = encode_blocks(blocks, sample_rate, clips[0].channels, format, path, shared.marks)
        if format is RenderFormat.WAV:
            add_cues(path, shared.marks)
    rate = encoded_rate(format, sample_rate)
    return samples if rate == sample_rate else round(samples * rate / sample_rate)


def _loop(
    blocks: Iterable[np.ndarray], windows: Sequence[Window], seams: Sequence[int], sample_rate: int,
    loop: tuple[float, float],
) -> np.ndarray:
    """The stretch `loop` of the spine (counted in what each clip's window
    holds heard), cut from its joined `blocks` and made seamless;
    InvalidArgument when it ends past the spine's end."""
    heard = [window.heard for window in windows]
    spine_s = sum(heard) / sample_rate
    if loop[1] > spine_s + 0.01:
        raise InvalidArgument(f"the loop ends at {loop[1]:.2f} s, past the spine's end at {spine_s:.2f} s")
    leads, trails = [window.lead for window in windows], [window.trail for window in windows]
    a, b = (joined_at(min(t, spine_s), sample_rate, heard, seams, leads, trails) for t in loop)
    margin = round((CROSSFADE_MS + SEARCH_MS) * sample_rate / 1000) + 2
    window, start = gather(blocks, a - margin, b + margin)
    return seamless(window, a - start, b - start, sample_rate)


def _zip_compression(format: RenderFormat) -> tuple[int, int | None]:
    """MP3 and FLAC are compressed already: stored. A WAV is deflated at level
    1: sounding audio shrinks by ~5% at ~50 MiB/s, but a stem's silent stretches
    (a vocal stem through the instrumental bars) to almost nothing at ~900 MiB/s,
    and higher levels cost twice the time for no more."""
    if format is RenderFormat.WAV:
        return zipfile.ZIP_DEFLATED, 1
    return zipfile.ZIP_STORED, None


def _add_to_zip(archive: zipfile.ZipFile, path: Path) -> None:
    """`path` into the zip under its own name, then off the disk."""
    archive.write(path, path.name)
    path.unlink()


async def render(job: RenderJob) -> AsyncIterator[Step | Rendered]:
    """Render `job` in worker threads, yielding a Step as each clip is decoded and
    once the file is encoded (for the mix, then for each stem), then the
    Rendered file: the mix, or in a stems render a zip of mix.<ext> and
    <stem>.<ext> per stem. The file lives in a temporary folder until the caller
    resumes or closes this generator: read it before. One track's clips are
    decoded (to files) at a time, and each track goes into the zip once
    encoded. Raises InvalidArgument naming the clip that can't be used."""
    count = len(job.clips)
    tracks = job.tracks

    def shapes() -> list[tuple[int, int]]:
        # Every file's header first: a bad last clip fails before minutes of decoding.
        return [
            clip_shape(data, index, count, stem) for stem, clips in tracks for index, data in enumerate(clips)
        ]

    rate, channels = (await asyncio.to_thread(shapes))[0]
    channels = output_channels(channels)
    total, done = len(tracks) * (count + 1), 0
    with tempfile.TemporaryDirectory(prefix="sparrow-export-") as working:
        working = Path(working)
        archive = None
        if job.stems:
            compression, level = _zip_compression(job.format)
            archive = zipfile.ZipFile(working / "export.zip", "w", compression, compresslevel=level)
        try:
            shared: Levels | None = None
            lengths: list[int] = []
            heard: list[Window] = []  # the mix's: where each clip's heard stretch lies in it
            samples = 0
            for stem, clips in tracks:
                decoded: list[DecodedClip] = []
                try:
                    for index, data in enumerate(clips):
                        # its out point, in point, and the centred crossfades of its joins
                        cuts = (
                            job.end_of(index), job.start_of(index), job.fade_of(index), job.fade_of(index + 1),
                        )
                        clip = await asyncio.to_thread(
                            decode_to_file, data, rate, channels, index, count, working,
                            stem, lengths[index] if stem else None, *cuts,
                        )
                        decoded.append(clip)
                        if not stem:
                            heard.append(reach(rate, *cuts).window(clip.length))
                        done += 1
                        yield Step(done, total)
                    if shared is None:  # the mix's: every stem is joined the same
                        shared = await asyncio.to_thread(levels, decoded, heard, rate, job)
                        lengths = [clip.length for clip in decoded]
                    track = working / f"{stem or MIX}.{job.format.value}"
                    written = await asyncio.to_thread(
                        write_track, decoded, shared, rate, job.format, track, None if stem else job.loop
                    )
                    samples = samples if stem else written
                finally:
                    for clip in decoded:
                        clip.close()
                if archive is not None:
                    await asyncio.to_thread(_add_to_zip, archive, track)
                done += 1
                yield Step(done, total)
            path = track
            if archive is not None:
                await asyncio.to_thread(archive.close)
                path = Path(archive.filename)
            yield Rendered(
                path=path, size_bytes=path.stat().st_size, format=job.format,
                sample_rate=encoded_rate(job.format, rate), channels=channels, samples=samples,
                stems=job.stems,
            )
        finally:
            if archive is not None:
                archive.close()
