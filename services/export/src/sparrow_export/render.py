"""The audio of an export: read each clip, join them with equal-power crossfades,
match loudness to the root, encode. Each step is a small function of arrays and
bytes; `render` runs them off the event loop and reports progress."""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager

import av
import numpy as np
import pyloudnorm

from sparrow_common.audio import ACCEPTED
from sparrow_common.errors import InvalidArgument
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


def _frame_shape(frame: av.AudioFrame) -> tuple[str, str, int]:
    return frame.format.name, frame.layout.name, frame.sample_rate


def _resample(
    samples: np.ndarray, format: str, layout: av.AudioLayout | str, rate: int, sample_rate: int, channels: int
) -> np.ndarray:
    """Audio as FFmpeg lays it out (`format`, `layout`, `rate`) as float32
    (channels, samples) at `sample_rate`, in one resampler pass."""
    whole = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=format, layout=layout)
    whole.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout="mono" if channels == 1 else "stereo", rate=sample_rate)
    parts = [part.to_ndarray() for part in (*resampler.resample(whole), *resampler.resample(None))]
    return np.concatenate(parts, axis=-1) if parts else np.zeros((channels, 0), np.float32)


def _read_pcm_wav(data: bytes, sample_rate: int, channels: int) -> np.ndarray | None:
    """A 16-bit PCM WAV (what every generated take is) read straight into numpy,
    25 times faster than through the decoder frame by frame; None for any other file."""
    try:
        with wave.open(io.BytesIO(data)) as file:
            if file.getsampwidth() != 2 or file.getnchannels() > 2:
                return None
            rate, source_channels = file.getframerate(), file.getnchannels()
            frames = file.readframes(file.getnframes())
    except (wave.Error, EOFError):
        return None
    pcm = np.frombuffer(frames, "<i2")
    pcm = pcm[: len(pcm) // source_channels * source_channels]
    if rate == sample_rate and source_channels == channels:
        # exactly FFmpeg's s16 -> float conversion
        return pcm.reshape(-1, channels).T * np.float32(1 / 32768)
    layout = "mono" if source_channels == 1 else "stereo"
    return _resample(pcm[None, :], "s16", layout, rate, sample_rate, channels)


def _decode(container, stream, sample_rate: int, channels: int) -> np.ndarray:
    blocks: list[np.ndarray] = []
    run: list[av.AudioFrame] = []

    def convert() -> None:
        first = run[0]
        samples = np.concatenate([frame.to_ndarray() for frame in run], axis=-1)
        blocks.append(_resample(samples, first.format.name, first.layout, first.sample_rate, sample_rate, channels))

    for frame in container.decode(stream):
        # A stream may change rate or layout midway; each run gets its own resampler.
        if run and _frame_shape(frame) != _frame_shape(run[0]):
            convert()
            run = []
        run.append(frame)
    if run:
        convert()
    return np.concatenate(blocks, axis=-1) if blocks else np.zeros((channels, 0), np.float32)


def decode_clip(data: bytes, sample_rate: int, channels: int, index: int, count: int) -> np.ndarray:
    """A clip as float32 (channels, samples) at the root's rate and channels
    (1 or 2). Raises InvalidArgument naming the clip when it can't be used.

    Not sparrow_common.audio.decode, for speed, with the same samples: that one
    probes 5 MB and resamples frame by frame (about 100 ms for a 36 s WAV); this
    one reads 16-bit WAV straight, and otherwise resamples each run of decoded
    frames in one pass."""
    name = clip_name(index, count)
    audio = _read_pcm_wav(data, sample_rate, channels)
    if audio is None:
        with _opened(data, name) as (container, stream):
            audio = _decode(container, stream, sample_rate, channels)
    if audio.shape[-1] == 0:
        raise InvalidArgument(f"{name} holds no audio: it decodes to 0 seconds")
    return audio.astype(np.float32, copy=False)


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


def equal_power_gains(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) over `length` samples: cos and sin of a quarter turn,
    so their squares add to one and uncorrelated audio keeps its power."""
    phase = (np.arange(length, dtype=np.float64) + 0.5) / length * (np.pi / 2)
    return np.cos(phase).astype(np.float32), np.sin(phase).astype(np.float32)


def join(clips: Sequence[np.ndarray], crossfade: int) -> np.ndarray:
    """Clips (channels, samples), all at one rate and channel count, end to end
    with an equal-power crossfade of `crossfade` samples (clamped per seam by
    `seam_lengths`) at each seam. The result has sum(lengths) - sum(overlaps)
    samples; 0 is plain concatenation."""
    if not clips:
        raise ValueError("nothing to join")
    lengths = [clip.shape[-1] for clip in clips]
    seams = seam_lengths(lengths, crossfade)
    out = np.zeros((clips[0].shape[0], sum(lengths) - sum(seams)), dtype=np.float32)
    start = 0
    for index, clip in enumerate(clips):
        clip = clip.astype(np.float32, copy=False)
        head = seams[index - 1] if index > 0 else 0
        tail = seams[index] if index < len(seams) else 0
        if head:
            _, fade_in = equal_power_gains(head)
            out[:, start : start + head] += clip[:, :head] * fade_in
        body_end = clip.shape[-1] - tail
        out[:, start + head : start + body_end] = clip[:, head:body_end]
        if tail:
            fade_out, _ = equal_power_gains(tail)
            out[:, start + body_end : start + clip.shape[-1]] += clip[:, body_end:] * fade_out
        start += clip.shape[-1] - tail
    return out


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float | None:
    """EBU R128 integrated loudness (LUFS) of (channels, samples) audio, or None
    when it has none: shorter than one 400 ms block, or silent."""
    if audio.shape[-1] < int(LOUDNESS_BLOCK_S * sample_rate) + 1:
        return None
    loudness = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64))
    return float(loudness) if np.isfinite(loudness) else None


def loudness_gain_db(target_lufs: float, measured_lufs: float, peak: float) -> float:
    """The gain that moves `measured_lufs` to `target_lufs`, lowered when it would
    push the sample `peak` (linear) above PEAK_CEILING_DBFS."""
    gain = target_lufs - measured_lufs
    if peak > 0:
        gain = min(gain, PEAK_CEILING_DBFS - 20 * np.log10(peak))
    return float(gain)


def match_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float | None) -> np.ndarray:
    """`audio` with the gain that brings its integrated loudness to `target_lufs`
    (peaks kept under PEAK_CEILING_DBFS); unchanged when either loudness is undefined."""
    measured = integrated_loudness(audio, sample_rate)
    if target_lufs is None or measured is None:
        return audio
    gain_db = loudness_gain_db(target_lufs, measured, float(np.max(np.abs(audio))))
    log.debug("loudness %.1f LUFS -> %.1f LUFS: %+.2f dB", measured, target_lufs, gain_db)
    return audio * np.float32(10 ** (gain_db / 20))


def encoded_rate(format: RenderFormat, sample_rate: int) -> int:
    """The rate the file is written at: the audio's own, except for an MP3, which
    only holds MP3_RATES: then the next one up (48 kHz at most)."""
    if format is not RenderFormat.MP3 or sample_rate in MP3_RATES:
        return sample_rate
    return next((rate for rate in MP3_RATES if rate > sample_rate), MP3_RATES[-1])


def encode(audio: np.ndarray, sample_rate: int, format: RenderFormat) -> bytes:
    """(channels, samples) float audio, clipped to [-1, 1], as a file: 16-bit PCM
    WAV, 16-bit FLAC, or MP3 at MP3_BIT_RATE (resampled per `encoded_rate`)."""
    layout = "mono" if audio.shape[0] == 1 else "stereo"
    rate = encoded_rate(format, sample_rate)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=format.value) as container:
        stream = container.add_stream(_CODECS[format], rate=rate, layout=layout)
        if format is RenderFormat.MP3:
            stream.codec_context.bit_rate = MP3_BIT_RATE
        samples = np.ascontiguousarray(np.clip(audio, -1.0, 1.0), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = 0
        # PyAV converts the frame to the encoder's sample format, rate and frame size.
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def finish(clips: Sequence[np.ndarray], sample_rate: int, job: RenderJob) -> Rendered:
    """Join decoded clips, match the loudness to the root's if asked, and encode."""
    joined = join(clips, crossfade_samples(job.crossfade_ms, sample_rate))
    if job.normalize:
        joined = match_loudness(joined, sample_rate, integrated_loudness(clips[0], sample_rate))
    data = encode(joined, sample_rate, job.format)
    rate = encoded_rate(job.format, sample_rate)
    samples = joined.shape[-1] if rate == sample_rate else round(joined.shape[-1] * rate / sample_rate)
    return Rendered(data=data, format=job.format, sample_rate=rate, channels=joined.shape[0], samples=samples)


async def render(job: RenderJob) -> AsyncIterator[Step | Rendered]:
    """Render `job` in worker threads, yielding a Step as each clip is decoded and
    once the file is encoded, then the Rendered file. Raises InvalidArgument
    naming the clip that can't be used."""
    count = len(job.clips)

    def shapes() -> list[tuple[int, int]]:
        # Every clip's header first: a bad last clip fails before minutes of decoding.
        return [clip_shape(data, index, count) for index, data in enumerate(job.clips)]

    rate, channels = (await asyncio.to_thread(shapes))[0]
    channels = output_channels(channels)
    total = count + 1
    decoded = []
    for index, data in enumerate(job.clips):
        decoded.append(await asyncio.to_thread(decode_clip, data, rate, channels, index, count))
        yield Step(index + 1, total)
    rendered = await asyncio.to_thread(finish, decoded, rate, job)
    yield Step(total, total)
    yield rendered
