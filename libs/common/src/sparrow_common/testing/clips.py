"""Make short audio clips in every upload format, with PyAV's encoders."""

from __future__ import annotations

import io
import struct
import wave

import av
import numpy as np

# format -> (container, codec, sample rate the codec wants or None)
ENCODINGS = {
    "wav": ("wav", "pcm_s16le", None),
    "mp3": ("mp3", "libmp3lame", None),
    "flac": ("flac", "flac", None),
    "ogg": ("ogg", "libopus", 48000),
    "m4a": ("ipod", "aac", None),
    "aiff": ("aiff", "pcm_s16be", None),
}


def tone(seconds: float, sample_rate: int, channels: int, freq: float = 220.0) -> np.ndarray:
    """A quiet chord-ish test signal, float32 shaped (channels, samples)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.2 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(2 * np.pi * freq * 1.5 * t)
    return np.stack([mono * (1.0 - 0.3 * c) for c in range(channels)]).astype(np.float32)


def make_clip(fmt: str = "wav", seconds: float = 2.0, sample_rate: int = 32000, channels: int = 1) -> bytes:
    """An encoded clip of `seconds` in `fmt` (wav, mp3, flac, ogg, m4a, aiff)."""
    container_name, codec, forced_rate = ENCODINGS[fmt]
    rate = forced_rate or sample_rate
    samples = tone(seconds, rate, channels)
    layout = "mono" if channels == 1 else "stereo"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        # The resampler hands the encoder frames of the size and sample format it wants.
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name,
            layout=layout,
            rate=rate,
            frame_size=stream.codec_context.frame_size or 1024,
        )
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
        frame.sample_rate = rate
        for part in (*resampler.resample(frame), *resampler.resample(None)):
            for packet in stream.encode(part):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def silent_flac(seconds: float, sample_rate: int = 8000) -> bytes:
    """A FLAC of `seconds` of silence: a few bytes per frame, so minutes of audio
    fit in kilobytes (an upload that decodes to far more than its size)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=sample_rate, layout="mono")
        block = stream.codec_context.frame_size or 4608
        silence = np.zeros((1, block), dtype=np.int16)
        for index in range(int(seconds * sample_rate) // block):
            frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, index * block
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def raw_wav(data: bytes, sample_rate: int, channels: int = 1) -> bytes:
    """A 16-bit WAV around `data`, with any rate and channel count its header can say."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(data)
    return buffer.getvalue()


def smpl_loop(data: bytes) -> tuple[int, int]:
    """(start, end) of a WAV's one loop, from its `smpl` chunk."""
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if kind == b"smpl":
            body = data[at + 8 : at + 8 + size]
            assert struct.unpack("<I", body[28:32])[0] == 1  # one loop
            return struct.unpack("<II", body[44:52])
        at += 8 + size + size % 2
    raise AssertionError("no smpl chunk")
