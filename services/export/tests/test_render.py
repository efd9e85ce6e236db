"""The audio maths of an export, on arrays: seams, equal-power crossfades,
loudness matching and encoding."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from sparrow_common.audio import decode, encode_wav
from sparrow_common.errors import InvalidArgument
from sparrow_common.testing.clips import make_clip
from sparrow_export.blocks import LoudnessMeter, equal_power_gains
from sparrow_export.domain import RenderFormat
from sparrow_export.render import (
    PEAK_CEILING_DBFS,
    clip_shape,
    crossfade_samples,
    decode_clip,
    encode,
    encoded_rate,
    integrated_loudness,
    join,
    match_loudness,
    seam_lengths,
)

RATE = 8000


def noise(seconds: float, seed: int, channels: int = 1, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal((channels, int(seconds * RATE)))).astype(np.float32)


def sine(seconds: float, rate: int, amplitude: float, freq: float = 997.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t))[None, :].astype(np.float32)


def windowed_rms(audio: np.ndarray, window: int) -> np.ndarray:
    usable = audio[0, : audio.shape[-1] // window * window]
    return np.sqrt(np.mean(usable.reshape(-1, window) ** 2, axis=1))


def test_gains_keep_power_and_run_from_one_clip_to_the_other():
    fade_out, fade_in = equal_power_gains(1000)
    np.testing.assert_allclose(fade_out**2 + fade_in**2, 1.0, atol=1e-6)
    assert fade_out[0] > 0.99 and fade_in[0] < 0.01 and fade_out[-1] < 0.01 and fade_in[-1] > 0.99


@pytest.mark.parametrize("crossfade", [0, 1, 800, 4000])
def test_lengths_are_exact_in_samples(crossfade):
    clips = [noise(s, seed) for seed, s in enumerate([1.0, 2.5, 1.75, 3.0])]
    joined = join(clips, crossfade)
    lengths = [c.shape[-1] for c in clips]
    assert joined.shape == (1, sum(lengths) - (len(clips) - 1) * crossfade)


def test_no_crossfade_is_plain_concatenation():
    clips = [noise(0.5, 1, channels=2), noise(0.3, 2, channels=2)]
    np.testing.assert_array_equal(join(clips, 0), np.concatenate(clips, axis=-1))


def test_a_crossfade_longer_than_a_clip_is_clamped_to_half_the_shorter_neighbour():
    assert seam_lengths([8000, 1000, 8000], 4000) == [500, 500]
    assert seam_lengths([3, 8000], 4000) == [1]
    clips = [noise(1.0, 1), noise(0.125, 2), noise(1.0, 3)]
    assert join(clips, 4000).shape[-1] == 8000 + 1000 + 8000 - 2 * 500


def test_outside_the_seams_each_clip_is_untouched():
    a, b = noise(1.0, 1), noise(1.0, 2)
    joined = join([a, b], 800)
    np.testing.assert_array_equal(joined[:, :7200], a[:, :7200])
    np.testing.assert_array_equal(joined[:, 8000:], b[:, 800:])


def test_a_seam_between_uncorrelated_noise_keeps_its_loudness():
    """Equal power: no dip or bump through the crossfade (a linear fade would dip 3 dB)."""
    a, b = noise(3.0, 1), noise(3.0, 2)
    crossfade = 2 * RATE
    joined = join([a, b], crossfade)
    seam = joined[:, 3 * RATE - crossfade : 3 * RATE]
    # 0.2 s windows: the noise's own RMS wanders about 0.15 dB at that length
    rms = windowed_rms(seam, 1600)
    assert np.all(np.abs(20 * np.log10(rms / 0.1)) < 0.75), rms
    # the same seam with straight-line gains dips in the middle, which is what we avoid
    ramp = np.linspace(0, 1, crossfade, dtype=np.float32)
    linear = a[:, -crossfade:] * (1 - ramp) + b[:, :crossfade] * ramp
    middle = windowed_rms(linear[:, crossfade // 2 - 800 : crossfade // 2 + 800], 1600)[0]
    assert 20 * np.log10(middle / 0.1) < -2.0


def test_integrated_loudness_of_a_sine_follows_bs1770():
    # BS.1770: a full-scale 997 Hz sine in one channel reads -3.01 LUFS.
    assert integrated_loudness(sine(3.0, 48000, 1.0), 48000) == pytest.approx(-3.01, abs=0.1)
    assert integrated_loudness(sine(3.0, 48000, 0.1), 48000) == pytest.approx(-23.01, abs=0.1)


def test_audio_too_short_or_silent_has_no_loudness():
    assert integrated_loudness(sine(0.3, RATE, 0.5), RATE) is None
    assert integrated_loudness(np.zeros((2, 3 * RATE), np.float32), RATE) is None


def test_match_loudness_moves_a_quiet_mix_to_the_target():
    quiet = noise(4.0, 1, channels=2, level=0.01)
    louder = match_loudness(quiet, RATE, -20.0)
    assert integrated_loudness(louder, RATE) == pytest.approx(-20.0, abs=0.1)


def test_match_loudness_never_lifts_a_peak_above_the_ceiling():
    spiky = noise(4.0, 1, level=0.01)
    spiky[0, 5000] = 0.5
    out = match_loudness(spiky, RATE, -10.0)
    assert 20 * np.log10(np.max(np.abs(out))) == pytest.approx(PEAK_CEILING_DBFS, abs=0.01)
    assert integrated_loudness(out, RATE) < -10.0


def test_match_loudness_leaves_audio_with_no_loudness_alone():
    short = sine(0.2, RATE, 0.01)
    assert match_loudness(short, RATE, -10.0) is short
    assert match_loudness(noise(1.0, 1), RATE, None).max() == noise(1.0, 1).max()


@pytest.mark.parametrize("format", list(RenderFormat))
@pytest.mark.parametrize("channels", [1, 2])
def test_encode_writes_a_file_that_decodes_to_the_same_audio(format, channels):
    audio = np.concatenate([sine(1.5, 32000, 0.3), sine(1.5, 32000, 0.2, 440.0)])[:channels]
    data = encode(audio, 32000, format)
    back = decode(data, 32000, channels)
    if format is RenderFormat.MP3:
        assert abs(back.shape[-1] - audio.shape[-1]) <= 1152
    else:
        assert back.shape == audio.shape
        np.testing.assert_allclose(back, audio, atol=1 / 16384)


def test_encode_clips_what_is_past_full_scale():
    back = decode(encode(np.full((1, 1000), 1.7, np.float32), RATE, RenderFormat.WAV), RATE, 1)
    assert back.max() == pytest.approx(1.0, abs=1e-4)


def test_mp3_takes_the_next_rate_it_can_hold():
    assert encoded_rate(RenderFormat.MP3, 44100) == 44100
    assert encoded_rate(RenderFormat.MP3, 37800) == 44100
    assert encoded_rate(RenderFormat.MP3, 96000) == 48000
    assert encoded_rate(RenderFormat.WAV, 96000) == 96000
    assert crossfade_samples(500, 44100) == 22050


def test_clip_shape_reads_the_header_and_names_a_bad_clip():
    assert clip_shape(make_clip("flac", 0.5, 22050, 2), 0, 3) == (22050, 2)
    with pytest.raises(InvalidArgument, match=r"clip 2 of 3 could not be read as audio \(invalid data"):
        clip_shape(b"not audio at all" * 64, 1, 3)
    with pytest.raises(InvalidArgument, match="clip 3 of 3 is empty"):
        clip_shape(b"", 2, 3)


@pytest.mark.parametrize(
    "fmt, rate, channels",
    [("wav", 32000, 1), ("wav", 48000, 2), ("mp3", 22050, 2), ("m4a", 48000, 1), ("aiff", 44100, 2), ("flac", 16000, 1)],
)
@pytest.mark.parametrize("root_rate, root_channels", [(44100, 2), (32000, 1)])
def test_decode_clip_gives_what_the_shared_decoder_gives(fmt, rate, channels, root_rate, root_channels):
    """The same samples as sparrow_common.audio.decode (16-bit WAV is read
    without the decoder), at the root's rate and channels."""
    clip = make_clip(fmt, 1.0, rate, channels)
    ours = decode_clip(clip, root_rate, root_channels, 0, 1)
    shared = decode(clip, root_rate, root_channels)
    assert ours.shape == shared.shape and ours.dtype == np.float32
    if rate == root_rate and channels == root_channels:
        np.testing.assert_array_equal(ours, shared)
    else:
        np.testing.assert_allclose(ours, shared, atol=1e-3)


def test_decode_clip_names_a_clip_with_no_samples():
    empty_wav = encode_wav(np.zeros((1, 0), np.float32), RATE)
    with pytest.raises(InvalidArgument, match="clip 1 of 1 holds no audio: it decodes to 0 seconds"):
        decode_clip(empty_wav, RATE, 1, 0, 1)


def test_the_meter_fed_in_blocks_measures_what_pyloudnorm_measures_whole():
    """Loud and quiet passages and silence, so both gates drop blocks; fed in
    blocks of odd sizes, the meter keeps its filters' state across them."""
    rng = np.random.default_rng(7)
    audio = np.concatenate(
        [noise(3.0, 1, 2, 0.5), np.zeros((2, 2 * RATE), np.float32), noise(4.0, 2, 2, 0.005), noise(1.3, 3, 2)], axis=-1
    ).astype(np.float32)
    meter = LoudnessMeter(RATE, 2)
    at = 0
    while at < audio.shape[-1]:
        size = int(rng.integers(1, 20000))
        meter.feed(audio[:, at : at + size])
        at += size
    expected = pyloudnorm.Meter(RATE).integrated_loudness(audio.T.astype(np.float64))
    assert meter.integrated() == pytest.approx(expected, abs=0.01)
    assert meter.peak == pytest.approx(float(np.abs(audio).max()))
