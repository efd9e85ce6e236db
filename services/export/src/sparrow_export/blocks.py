"""The spine's audio block by block, so that an export's memory does not grow
with the spine: each clip is decoded once into a file of float32 frames (at the
root's rate and channels), then joined, measured and encoded a block at a time,
reading those files back. What stays in memory is a block, a crossfade's two
halves, and one loudness figure per 100 ms of the spine.

The samples are the ones the whole-array functions in render.py compute: a
block of the join is the same sum in the same order, and the loudness meter
is BS.1770-4's, as pyloudnorm measures it (its filters, its 400 ms blocks every
100 ms, its gates), fed as the audio goes by.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import numpy as np
import pyloudnorm
from scipy.signal import lfilter

# Frames per block: 512 KiB of stereo float32, whatever the rate.
BLOCK_FRAMES = 65536
_GATE_BLOCK_S, _STEP = 0.4, 0.25  # BS.1770's gating blocks of 400 ms, a new one every 100 ms
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
_ABSOLUTE_GATE_LUFS = -70.0


class _Clip:
    """What joined_blocks reads of a clip: `channels`, `length`, and read()."""

    channels: int
    length: int

    def read(self, start: int, count: int) -> np.ndarray:
        raise NotImplementedError

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """(channels, n) blocks of the samples from `start` to `stop` (the end)."""
        stop = self.length if stop is None else stop
        for at in range(start, stop, BLOCK_FRAMES):
            yield self.read(at, min(BLOCK_FRAMES, stop - at))


class DecodedClip(_Clip):
    """One clip's samples, float32, in a file of interleaved frames."""

    def __init__(self, path: Path, channels: int):
        self.path = path
        self.channels = channels
        self.length = 0
        self._file = open(path, "w+b")  # noqa: SIM115 - closed by close()

    def append(self, samples: np.ndarray) -> None:
        """(channels, n) samples at the end of the clip."""
        self._file.write(np.ascontiguousarray(samples.T, dtype=np.float32).tobytes())
        self.length += samples.shape[-1]

    def fit(self, length: int) -> None:
        """Trimmed to `length` samples, or padded with silence up to it."""
        if length < self.length:
            self._file.truncate(length * self.channels * 4)
            self.length = length
        elif length > self.length:
            self._file.seek(0, 2)
            for at in range(self.length, length, BLOCK_FRAMES):
                self.append(np.zeros((self.channels, min(BLOCK_FRAMES, length - at)), np.float32))

    def read(self, start: int, count: int) -> np.ndarray:
        """(channels, count) samples from `start`."""
        self._file.seek(start * self.channels * 4)
        frames = np.frombuffer(self._file.read(count * self.channels * 4), np.float32)
        return frames.reshape(-1, self.channels).T

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class HeldClip(_Clip):
    """A clip already in memory, read like a DecodedClip."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        self.channels, self.length = samples.shape

    def read(self, start: int, count: int) -> np.ndarray:
        return self.samples[:, start : start + count]


class WindowedClip(_Clip):
    """A stretch of a clip, `length` samples from `offset`, read as a clip of
    its own (what of a decoded clip is joined: render.Window)."""

    def __init__(self, clip: _Clip, offset: int, length: int):
        self.clip, self.offset = clip, offset
        self.channels, self.length = clip.channels, length

    def read(self, start: int, count: int) -> np.ndarray:
        return self.clip.read(self.offset + start, count)


class ScaledClip(_Clip):
    """A clip read at a gain (its loudness matched to another's)."""

    def __init__(self, clip: _Clip, gain: float):
        self.clip, self.gain = clip, gain
        self.channels, self.length = clip.channels, clip.length

    def read(self, start: int, count: int) -> np.ndarray:
        return self.clip.read(start, count) * self.gain


def _resampler(sample_rate: int, channels: int) -> av.AudioResampler:
    return av.AudioResampler(format="fltp", layout="mono" if channels == 1 else "stereo", rate=sample_rate)


def _resampled(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> Iterator[np.ndarray]:
    for part in resampler.resample(frame):
        yield part.to_ndarray()


def wav_blocks(data: bytes, sample_rate: int, channels: int) -> Iterator[np.ndarray] | None:
    """A 16-bit PCM WAV (what every generated take is) read straight, block by
    block, resampled only when its rate or channels differ; None for any other
    file (the decoder reads those)."""
    try:
        file = wave.open(io.BytesIO(data))  # noqa: SIM115 - closed by the generator
    except (wave.Error, EOFError):
        return None
    if file.getsampwidth() != 2 or file.getnchannels() > 2:
        file.close()
        return None

    def blocks() -> Iterator[np.ndarray]:
        with file:
            rate, source_channels = file.getframerate(), file.getnchannels()
            same = rate == sample_rate and source_channels == channels
            resampler = None if same else _resampler(sample_rate, channels)
            layout = "mono" if source_channels == 1 else "stereo"
            while frames := file.readframes(BLOCK_FRAMES):
                pcm = np.frombuffer(frames, "<i2")
                pcm = pcm[: len(pcm) // source_channels * source_channels]
                if same:  # exactly FFmpeg's s16 -> float conversion
                    yield pcm.reshape(-1, channels).T * np.float32(1 / 32768)
                    continue
                frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout=layout)
                frame.sample_rate = rate
                yield from _resampled(resampler, frame)
            if resampler is not None:
                yield from _resampled(resampler, None)

    return blocks()


def decoded_blocks(container, stream, sample_rate: int, channels: int) -> Iterator[np.ndarray]:
    """Every frame of `stream`, resampled to `sample_rate` and `channels`,
    gathered into runs of about BLOCK_FRAMES before each resampler pass (frame by
    frame, the resampler's per-call cost is most of a decode). A stream may
    change rate or layout midway: each run of one shape gets its own resampler."""
    resampler, shape, run, held = None, None, [], 0

    def convert(final: bool) -> Iterator[np.ndarray]:
        if run:
            frame = av.AudioFrame.from_ndarray(np.concatenate(run, axis=-1), format=shape[0], layout=shape[1])
            frame.sample_rate = shape[2]
            yield from _resampled(resampler, frame)
            run.clear()
        if final:
            yield from _resampled(resampler, None)

    for frame in container.decode(stream):
        frame_shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if frame_shape != shape:
            if resampler is not None:
                yield from convert(final=True)
            resampler, shape, held = _resampler(sample_rate, channels), frame_shape, 0
        run.append(frame.to_ndarray())
        held += frame.samples
        if held >= BLOCK_FRAMES:
            yield from convert(final=False)
            held = 0
    if resampler is not None:
        yield from convert(final=True)


def equal_power_gains(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) over `length` samples: cos and sin of a quarter turn,
    so their squares add to one and uncorrelated audio keeps its power."""
    phase = (np.arange(length, dtype=np.float64) + 0.5) / length * (np.pi / 2)
    return np.cos(phase).astype(np.float32), np.sin(phase).astype(np.float32)


def joined_blocks(clips: Sequence[_Clip], seams: Sequence[int]) -> Iterator[np.ndarray]:
    """The clips end to end, with an equal-power crossfade of seams[i] samples
    between clip i and clip i + 1: render.join's samples, a block at a time."""
    held = None  # the tail of the clip before, to fade out under this one's head
    for index, clip in enumerate(clips):
        head = seams[index - 1] if index > 0 else 0
        tail = seams[index] if index < len(seams) else 0
        if head:
            fade_out, fade_in = equal_power_gains(head)
            yield held * fade_out + clip.read(0, head) * fade_in
        yield from clip.blocks(head, clip.length - tail)
        held = clip.read(clip.length - tail, tail) if tail else None


class LoudnessMeter:
    """BS.1770-4 integrated loudness of audio fed in blocks, and its sample peak."""

    def __init__(self, sample_rate: int, channels: int):
        meter = pyloudnorm.Meter(sample_rate)
        self.rate = sample_rate
        self.stages = [(stage.b, stage.a, stage.passband_gain) for stage in meter._filters.values()]
        fresh = [np.zeros(max(len(a), len(b)) - 1) for b, a, _ in self.stages]
        self.states = [[state.copy() for state in fresh] for _ in range(channels)]
        self.channels = channels
        self.samples = 0
        self.peak = 0.0
        # Sums of squares of the weighted audio, per channel, per 100 ms hop.
        self.hops: list[np.ndarray] = []
        self._hop = np.zeros(channels)

    def _boundary(self, hop: int) -> int:
        """Where hop `hop` starts: where pyloudnorm starts gating block `hop`."""
        return int(_GATE_BLOCK_S * (hop * _STEP) * self.rate)

    def feed(self, block: np.ndarray) -> None:
        """(channels, n) samples, following the ones fed before."""
        if block.shape[-1] == 0:
            return
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        weighted = np.empty(block.shape, np.float64)
        for channel in range(self.channels):
            signal = block[channel].astype(np.float64)
            for stage, (b, a, gain) in enumerate(self.stages):
                signal, self.states[channel][stage] = lfilter(b, a, signal, zi=self.states[channel][stage])
                signal = gain * signal
            weighted[channel] = signal
        squares = np.square(weighted)
        start, end = self.samples, self.samples + block.shape[-1]
        at = start
        while at < end:
            boundary = self._boundary(len(self.hops) + 1)
            upto = min(end, boundary)
            self._hop += squares[:, at - start : upto - start].sum(axis=-1)
            if upto == boundary:
                self.hops.append(self._hop)
                self._hop = np.zeros(self.channels)
            at = upto
        self.samples = end

    def integrated(self) -> float | None:
        """The integrated loudness in LUFS, or None when there is none: shorter
        than one 400 ms block, or silent."""
        if self.samples < int(_GATE_BLOCK_S * self.rate) + 1:
            return None
        hops = np.array([*self.hops, self._hop])
        per_block = round(1 / _STEP)  # hops in a gating block
        duration = self.samples / self.rate
        count = int(np.round((duration - _GATE_BLOCK_S) / (_GATE_BLOCK_S * _STEP))) + 1
        padded = np.concatenate([hops, np.zeros((per_block, self.channels))])
        # Mean square per channel of each gating block (eq. 1), from its hops.
        z = np.array([padded[j : j + per_block].sum(axis=0) for j in range(count)])
        z /= _GATE_BLOCK_S * self.rate
        weights = np.array(_CHANNEL_WEIGHTS[: self.channels])
        with np.errstate(divide="ignore"):
            blocks = -0.691 + 10 * np.log10(z @ weights)
            gated = z[blocks >= _ABSOLUTE_GATE_LUFS]
            if not len(gated):
                return None
            relative = -0.691 + 10 * np.log10(gated.mean(axis=0) @ weights) - 10
            kept = z[(blocks > relative) & (blocks > _ABSOLUTE_GATE_LUFS)]
            loudness = -0.691 + 10 * np.log10(kept.mean(axis=0) @ weights) if len(kept) else -np.inf
        return float(loudness) if np.isfinite(loudness) else None
