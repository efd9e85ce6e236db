"""Reading uploads: the limits a clip must keep, and decoding only a file's tail."""

from __future__ import annotations

import numpy as np
import pytest

from sparrow_common.audio import AudioLimits, decode, probe
from sparrow_common.errors import InvalidArgument
from sparrow_common.testing.clips import make_clip, raw_wav, silent_flac


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg", "m4a", "aiff"])
def test_the_tail_of_a_file_is_the_tail_of_its_whole_decode(fmt):
    data = make_clip(fmt, seconds=8.0, sample_rate=44100, channels=2)
    whole = decode(data, 32000, 2)
    tail = decode(data, 32000, 2, last_s=3.0)
    assert tail.shape == (2, 96000)
    # Lossy decoders restart at the seek: within a small fraction of the signal's level.
    assert np.abs(tail - whole[:, -96000:]).max() < 0.05 * np.abs(whole).max()


def test_a_tail_longer_than_the_file_is_the_whole_file():
    data = make_clip("flac", seconds=2.0)
    assert np.array_equal(decode(data, 32000, 1, last_s=10.0), decode(data, 32000, 1))


def test_limits_are_checked_before_decoding_and_while_decoding(tmp_path):
    path = tmp_path / "clip"
    path.write_bytes(silent_flac(90))
    with pytest.raises(InvalidArgument, match="plays for 1.5 minutes"):
        probe(path, AudioLimits(max_duration_s=60))
    assert probe(path, AudioLimits(max_duration_s=120)).duration_s == pytest.approx(90, abs=0.2)
    path.write_bytes(raw_wav(bytes(400), sample_rate=4000))
    with pytest.raises(InvalidArgument, match="4000 Hz"):
        probe(path)
