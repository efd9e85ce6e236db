"""Reading audio files with PyAV (FFmpeg's decoders as a wheel) and cutting them
into chunks for gRPC streams."""

from __future__ import annotations

import asyncio
import io
import os
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from sparrow_common.errors import InvalidArgument

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class AudioLimits:
    """What Sparrow takes as a clip. A few kilobytes can decode to hours (a
    compressed silence) or claim absurd rates (a WAV at 1 Hz plays 1,000 s from
    2 kB), and everything after the upload (a take's context, stems, export)
    works on the decoded audio: so the decoded length, rate and channels are
    bounded, not only the bytes. The chain service's CHAIN_MAX_AUDIO_S sets
    `max_duration_s`."""

    max_duration_s: float = 1200.0
    min_sample_rate: int = 8_000
    max_sample_rate: int = 192_000
    max_channels: int = 8

    def check_format(self, sample_rate: int, channels: int) -> None:
        if sample_rate and not self.min_sample_rate <= sample_rate <= self.max_sample_rate:
            raise InvalidArgument(
                f"its sample rate is {sample_rate} Hz; Sparrow takes {self.min_sample_rate // 1000} kHz "
                f"to {self.max_sample_rate // 1000} kHz"
            )
        if channels and not 1 <= channels <= self.max_channels:
            raise InvalidArgument(f"it has {channels} channels; Sparrow takes 1 to {self.max_channels}")

    def check_duration(self, seconds: float, so_far: bool = False) -> None:
        """`so_far`: the length decoded until now, not the whole file's."""
        if seconds > self.max_duration_s:
            length = f"longer than {_minutes(self.max_duration_s)}" if so_far else f"for {_minutes(seconds)}"
            raise InvalidArgument(f"it plays {length}; Sparrow takes clips up to {_minutes(self.max_duration_s)}")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.1f} s"


@dataclass(frozen=True)
class AudioFormat:
    """A container Sparrow accepts."""

    name: str
    extension: str
    content_type: str


# Keyed by FFmpeg's demuxer name: what the bytes are, whatever the file was called.
FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat("wav", "wav", "audio/wav"),
    "mp3": AudioFormat("mp3", "mp3", "audio/mpeg"),
    "flac": AudioFormat("flac", "flac", "audio/flac"),
    "ogg": AudioFormat("ogg", "ogg", "audio/ogg"),
    "mov,mp4,m4a,3gp,3g2,mj2": AudioFormat("m4a", "m4a", "audio/mp4"),
    "aiff": AudioFormat("aiff", "aiff", "audio/aiff"),
}
ACCEPTED = "WAV, MP3, FLAC, OGG, M4A or AIFF"


@dataclass(frozen=True)
class AudioInfo:
    """What a full decode of a file found."""

    format: str
    content_type: str
    extension: str
    sample_rate: int
    channels: int
    duration_s: float
    size_bytes: int


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _wav_declared_duration(path: str | os.PathLike, size: int) -> float | None:
    """The length a WAV header promises; FFmpeg trusts the file size instead,
    so it can't tell a cut-short WAV from a short one."""
    with open(path, "rb") as f:
        header = f.read(4096)
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(header):
        chunk, length = header[pos : pos + 4], int.from_bytes(header[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            byte_rate = int.from_bytes(header[pos + 16 : pos + 20], "little")
        elif chunk == b"data":
            # 0 and 0xFFFFFFFF mark a WAV written as a stream, length unknown.
            if byte_rate == 0 or length in (0, 0xFFFFFFFF):
                return None
            return length / byte_rate
        pos += 8 + length + (length & 1)
    return None


def probe(path: str | os.PathLike, limits: AudioLimits = AudioLimits()) -> AudioInfo:
    """Decode the whole file to prove it is sound audio and measure it.

    Raises InvalidArgument with a sentence a musician can act on when the file is
    empty, not audio, in a format Sparrow doesn't take, cut short, or past
    `limits`: its header's rate, channels and length are checked before a
    sample is decoded, and decoding stops as soon as the audio passes the
    longest clip allowed, so a bomb costs no more than a clip at the limit."""
    size = Path(path).stat().st_size
    if size == 0:
        raise InvalidArgument("the file is empty")
    try:
        with av.open(os.fspath(path), mode="r") as container:
            fmt = FORMATS.get(container.format.name)
            if fmt is None:
                raise InvalidArgument(
                    f"{container.format.long_name} files are not supported; upload {ACCEPTED}"
                )
            if not container.streams.audio:
                raise InvalidArgument("the file has no audio stream")
            stream = container.streams.audio[0]
            limits.check_format(stream.codec_context.sample_rate, stream.codec_context.channels)
            declared = _declared_duration(container, stream)
            if fmt.name == "wav":
                declared = _wav_declared_duration(path, size) or declared
            if declared is not None:
                limits.check_duration(declared)
            samples = 0
            sample_rate = 0
            channels = 0
            for frame in container.decode(stream):
                if frame.sample_rate != sample_rate or frame.layout.nb_channels != channels:
                    sample_rate, channels = frame.sample_rate, frame.layout.nb_channels
                    limits.check_format(sample_rate, channels)
                samples += frame.samples
                if sample_rate:
                    limits.check_duration(samples / sample_rate, so_far=True)
    except InvalidArgument:
        raise
    except av.error.FFmpegError as error:
        # strerror, not str(error): the latter names our temporary file.
        raise InvalidArgument(
            f"the audio could not be decoded ({error.strerror.lower()}); upload {ACCEPTED}"
        ) from None
    if samples == 0 or sample_rate == 0:
        raise InvalidArgument("the file holds no audio")
    duration = samples / sample_rate
    # A cut-short upload decodes to less than its header promises; the slack
    # covers encoder priming and rounding, never a missing second.
    if declared is not None and duration + 0.25 + 0.02 * declared < declared:
        raise InvalidArgument(
            f"the file is truncated: its header says {declared:.2f} s but only "
            f"{duration:.2f} s of audio could be decoded"
        )
    return AudioInfo(
        format=fmt.name,
        content_type=fmt.content_type,
        extension=fmt.extension,
        sample_rate=sample_rate,
        channels=channels,
        duration_s=duration,
        size_bytes=size,
    )


def read_chunks(
    path: str | os.PathLike, offset: int = 0, length: int = 0, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """Yield the bytes of `path` from `offset`, `length` of them (0: to the end)."""
    with open(path, "rb") as f:
        f.seek(offset)
        remaining = length if length > 0 else None
        while remaining is None or remaining > 0:
            want = chunk_bytes if remaining is None else min(chunk_bytes, remaining)
            data = f.read(want)
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data


async def chunks_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks of a blocking reader (read_chunks, a blob store's read), each
    read in a worker thread so the event loop never waits on the disk; the
    reader is closed when the caller stops early."""
    try:
        while (data := await asyncio.to_thread(next, chunks, None)) is not None:
            yield data
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def decode(
    source: str | os.PathLike | bytes, sample_rate: int, channels: int, last_s: float | None = None
) -> np.ndarray:
    """Decode a file (a path or its bytes) to float32 (channels, samples),
    resampled to `sample_rate` and mixed to `channels` (1 or 2).

    `last_s`: only the file's last seconds. The decoder seeks to a little before
    them instead of decoding from the start, so the tail of a 20-minute clip
    costs what a short clip does, in time and in memory."""
    layout = "mono" if channels == 1 else "stereo"
    wanted = None if last_s is None else max(int(round(last_s * sample_rate)), 0)
    opened = io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)
    try:
        with av.open(opened, mode="r") as container:
            stream = container.streams.audio[0]
            length = _declared_duration(container, stream)
            if wanted is not None and length is not None and stream.time_base and length > last_s + _SEEK_SLACK_S:
                start = length - last_s - _SEEK_SLACK_S
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
                tail = _decoded(container, stream, sample_rate, layout, channels)
                if tail.shape[-1] >= wanted:
                    return tail[:, tail.shape[-1] - wanted :]
                container.seek(0, stream=stream)  # the seek landed short: decode it all
            audio = _decoded(container, stream, sample_rate, layout, channels)
    except (av.error.FFmpegError, IndexError) as error:
        raise InvalidArgument(f"the audio could not be decoded ({error})") from None
    return audio if wanted is None else audio[:, max(audio.shape[-1] - wanted, 0) :]


# Decoded before the tail asked for, so that seeking to a packet boundary (and
# the resampler's start-up) never leaves the tail short.
_SEEK_SLACK_S = 1.0


def _decoded(container, stream, sample_rate: int, layout: str, channels: int) -> np.ndarray:
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    blocks: list[np.ndarray] = []
    for frame in container.decode(stream):
        blocks.extend(f.to_ndarray() for f in resampler.resample(frame))
    blocks.extend(f.to_ndarray() for f in resampler.resample(None))
    if not blocks:
        return np.zeros((channels, 0), dtype=np.float32)
    return np.concatenate(blocks, axis=-1).astype(np.float32, copy=False)


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of float (channels, samples) audio, clipped to [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.T.tobytes())
    return buffer.getvalue()


def wav_frames(data: bytes) -> int:
    """How many frames (samples per channel) a WAV of encode_wav's holds."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes()


def split(data: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """`data` in chunks for a stream."""
    for start in range(0, len(data), chunk_bytes):
        yield data[start : start + chunk_bytes]
