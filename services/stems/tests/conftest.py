"""Fixtures for the stems worker's tests."""

from __future__ import annotations

import pytest

from sparrow_common.audio import encode_wav
from sparrow_common.testing.clips import tone


@pytest.fixture(scope="session")
def five_minute_song():
    """A five-minute 44.1 kHz stereo WAV (about 53 MB)."""
    return encode_wav(tone(300, 44100, 2), 44100)
