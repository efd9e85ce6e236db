"""What Sparrow hears, measured on songs with a known tempo, meter and key
(sparrow_common.testing.songs): the accuracy figures, no steady beat said as
none, the key profiles, loudness, and the seam report."""

from __future__ import annotations

import numpy as np
import pytest

from sparrow_analysis.engine.key import key_of_chroma, relation
from sparrow_analysis.engine.listener import RATE, analyze
from sparrow_analysis.engine.seam import seam
from sparrow_common.testing.songs import _chord, song

TONICS = ["C", "D", "D#", "E", "F", "G", "A", "A#", "B", "F#", "C#", "G#"]
SPELLED = {"D#": "Eb", "A#": "Bb", "G#": "Ab"}


def cases(count: int = 36):
    """Tempos from 70 to 160 bpm, every third in 3/4, every tonic, major and minor."""
    rng = np.random.default_rng(0)
    for i in range(count):
        tonic, mode = TONICS[i % 12], "major" if i % 2 == 0 else "minor"
        yield float(rng.uniform(70, 160)), 3 if i % 3 == 0 else 4, f"{tonic} {mode}", i


@pytest.fixture(scope="module")
def heard():
    return [(tempo, meter, key, analyze(song(tempo, meter, key, bars=6, sample_rate=RATE, seed=seed), RATE))
            for tempo, meter, key, seed in cases()]


def test_tempo_is_within_two_percent_or_said_as_double_or_half(heard):
    right = [abs(a.tempo_bpm / tempo - 1) <= 0.02 for tempo, _, _, a in heard]
    octave = [min(abs(a.tempo_bpm / tempo - f) for f in (2.0, 0.5)) <= 0.02 for tempo, _, _, a in heard]
    print(f"tempo within 2%: {sum(right)}/{len(heard)}; double or half: {sum(octave)}")
    assert all(r or o for r, o in zip(right, octave, strict=True))
    assert sum(right) >= 0.9 * len(heard)


def test_the_key_is_right_on_nine_clear_progressions_of_ten(heard):
    right = sum(a.key == " ".join((SPELLED.get(key.split()[0], key.split()[0]), key.split()[1]))
                for _, _, key, a in heard)
    print(f"key right: {right}/{len(heard)}")
    assert right >= 0.9 * len(heard)
    assert all(a.key_confidence > 0.7 for *_, a in heard)


def test_bars_and_meter_are_found(heard):
    meters = sum(a.meter == meter for _, meter, _, a in heard)
    print(f"meter right: {meters}/{len(heard)}")
    assert meters >= 0.9 * len(heard)
    for tempo, meter, _, a in heard:
        if a.meter != meter:
            continue
        bar = meter * 60 / tempo
        # Every downbeat lies on a bar line of the song (which starts on one), within 40 ms.
        assert all(abs(t / bar - round(t / bar)) * bar < 0.04 for t in a.downbeats_s), (tempo, meter, a.downbeats_s)


def noise(seconds: float, seed: int = 1) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


@pytest.mark.parametrize("clip", ["noise", "drone", "silence"])
def test_a_clip_with_no_steady_beat_says_so(clip):
    y = {"noise": noise(10), "drone": (_chord(48, "maj", 10.0, RATE) / 2).astype(np.float32),
         "silence": np.zeros(5 * RATE, np.float32)}[clip]
    a = analyze(y, RATE)
    assert a.tempo_bpm is None and a.beats_s == [] and a.downbeats_s == [] and a.meter is None
    if clip == "silence":
        assert a.loudness_lufs is None and a.peak_dbfs is None and a.key is None


def test_key_profiles_name_the_key_and_its_relatives():
    c_major = np.zeros(12)
    c_major[[0, 4, 7]] = 1.0  # a C major triad, with a little of F and G
    c_major[[5, 11, 2]] = 0.3
    assert key_of_chroma(c_major)[0] == "C major"
    assert key_of_chroma(np.roll(c_major, 2))[0] == "D major"
    assert key_of_chroma(np.ones(12)) == (None, 0.0)
    assert relation("C major", "A minor") == relation("A minor", "C major") == "relative"
    assert relation("C major", "C major") == "same" and relation("C major", "D major") == "other"
    assert relation(None, "C major") is None


def test_loudness_follows_the_level():
    loud, quiet = song(120, seed=3, sample_rate=RATE), song(120, seed=3, sample_rate=RATE) * 0.1
    a, b = analyze(loud, RATE), analyze(quiet, RATE)
    assert a.loudness_lufs - b.loudness_lufs == pytest.approx(20.0, abs=0.1)
    assert a.peak_dbfs == pytest.approx(20 * np.log10(np.abs(loud).max()), abs=0.01)


# -- the seam ---------------------------------------------------------------------

TEMPO, BAR = 120.0, 2.0  # 4/4 at 120 bpm: a bar is 2 s


def report(take: np.ndarray, parent: np.ndarray):
    return seam(parent, take, RATE, analyze(parent, RATE), analyze(take, RATE))


@pytest.fixture(scope="module")
def whole():
    """Twelve bars of one song: its first eight are the path, the rest a take that continues it."""
    return song(TEMPO, 4, "A minor", bars=12, sample_rate=RATE, seed=5)[: int(12 * BAR * RATE)]


def test_a_take_that_continues_the_song_is_a_clean_seam(whole):
    cut = int(8 * BAR * RATE)
    r = report(whole[cut:], whole[:cut])
    assert abs(r.tempo_change_pct) < 2 and abs(r.beat_offset_ms) < 30 and r.key_match == "same"
    assert abs(r.loudness_step_db) < 1.5 and not r.fades_out and not r.silent_start
    assert r.score > 0.8, r
    assert "on the beat" in r.notes and "same key" in r.notes


def test_off_tempo_off_beat_and_off_key_takes_score_lower(whole):
    cut = int(8 * BAR * RATE)
    parent, clean = whole[:cut], report(whole[cut:], whole[:cut])
    faster = report(song(TEMPO * 1.1, 4, "A minor", bars=4, sample_rate=RATE, seed=5), parent)
    assert faster.tempo_change_pct == pytest.approx(10, abs=2) and faster.score < clean.score
    late = report(np.r_[np.zeros(int(0.125 * RATE), np.float32), whole[cut:]], parent)  # a quarter beat late
    assert late.beat_offset_ms == pytest.approx(125, abs=30) and late.score < clean.score
    assert "125 ms late" in " ".join(late.notes) or "ms late" in " ".join(late.notes)
    other_key = report(song(TEMPO, 4, "F# major", bars=4, sample_rate=RATE, seed=4), parent)
    assert other_key.key_match == "other" and other_key.score < clean.score


def test_a_take_that_fades_out_or_starts_silent_says_so(whole):
    cut = int(8 * BAR * RATE)
    take = whole[cut:].copy()
    fade = np.ones_like(take)
    fade[-2 * RATE :] = np.linspace(1.0, 0.0, 2 * RATE) ** 3
    faded = report(take * fade, whole[:cut])
    assert faded.fades_out and "fades out" in faded.notes
    silent = take.copy()
    silent[: RATE // 2] = 0
    late_start = report(silent, whole[:cut])
    assert late_start.silent_start and "starts silent" in late_start.notes
    assert not report(take, whole[:cut]).fades_out
