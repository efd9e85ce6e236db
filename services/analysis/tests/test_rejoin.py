"""Choosing where a take comes back into the part it replaces a stretch of
(engine/rejoin.py), on joins known to be good and bad: songs with a known grid
(120 bpm, 4/4, a bar every 2 s), and takes that continue them exactly, drift off
the beat, or play something else until they fall back in."""

from __future__ import annotations

import numpy as np
import pytest

from sparrow_analysis.engine.listener import RATE
from sparrow_analysis.domain import RejoinAsked
from sparrow_analysis.engine.rejoin import rejoin, report
from sparrow_common.testing.songs import song

BAR_S = 2.0
DOWNBEATS = [BAR_S * k for k in range(12)]
FROM_S = 4.0


@pytest.fixture(scope="module")
def part():
    return song(120.0, 4, "A minor", bars=12, sample_rate=RATE, seed=3)


def test_a_take_that_plays_on_as_the_part_does_rejoins_on_the_asked_downbeat(part):
    take = part[int(FROM_S * RATE) :]
    joined = rejoin(take, part, RATE, FROM_S, asked_s=12.3, downbeats_s=DOWNBEATS, bpm=120.0)
    assert joined.at_s == 12.0 and joined.on == "downbeat"
    assert joined.match > 0.95 and abs(joined.offset_ms) < 30
    assert joined.crossfade_s == pytest.approx(0.5)  # a beat at 120 bpm


def test_a_take_in_another_key_is_a_poor_join_and_says_it_is_the_harmony(part):
    other = song(120.0, 4, "F# major", bars=12, sample_rate=RATE, seed=3)
    take = other[int(FROM_S * RATE) :]
    joined = rejoin(take, part, RATE, FROM_S, asked_s=12.0, downbeats_s=DOWNBEATS, bpm=120.0)
    assert joined.match < 0.6 and joined.harmony < 0.7


def test_the_rejoin_waits_for_the_downbeat_where_the_take_falls_back_in(part):
    # Another key up to 14 s, then the part itself: asked near 12 s, it comes back at 14.
    other = song(120.0, 4, "F# major", bars=12, sample_rate=RATE, seed=3)
    mixed = np.concatenate([other[: int(14.0 * RATE)], part[int(14.0 * RATE) :]])
    take = mixed[int(FROM_S * RATE) :]
    joined = rejoin(take, part, RATE, FROM_S, asked_s=12.0, downbeats_s=DOWNBEATS, bpm=120.0)
    asked = rejoin(take, part, RATE, FROM_S, asked_s=12.0, downbeats_s=[12.0], bpm=120.0)
    assert joined.at_s == 14.0 and joined.match > 0.8
    assert asked.at_s == 12.0 and asked.match < joined.match - 0.3


def test_a_take_off_the_beat_is_heard_late_and_scores_lower(part):
    late = np.concatenate([np.zeros(int(0.15 * RATE), dtype=np.float32), part])
    take = late[int(FROM_S * RATE) :]
    joined = rejoin(take, part, RATE, FROM_S, asked_s=12.0, downbeats_s=DOWNBEATS, bpm=120.0)
    on_time = rejoin(part[int(FROM_S * RATE) :], part, RATE, FROM_S, asked_s=12.0, downbeats_s=DOWNBEATS, bpm=120.0)
    assert joined.offset_ms == pytest.approx(150, abs=30)
    assert joined.match < on_time.match - 0.2
    said = report(joined, RejoinAsked(12.0, DOWNBEATS, tempo_bpm=120.0), len(take) / RATE, len(part) / RATE)
    assert said.weakest.startswith("off the beat by 1") and said.weakest.endswith("ms (the take late)")
    assert said.notes[0].startswith("comes back on a downbeat") and said.notes[-1] == said.weakest


def test_without_a_grid_the_point_is_chosen_in_time_and_none_past_the_take(part):
    take = part[int(FROM_S * RATE) : int(13.0 * RATE)]
    joined = rejoin(take, part, RATE, FROM_S, asked_s=12.0)
    assert joined.on == "time" and 11.0 <= joined.at_s <= 12.5 and joined.match > 0.9
    assert rejoin(take, part, RATE, FROM_S, asked_s=20.0, downbeats_s=DOWNBEATS, bpm=120.0) is None


def test_no_point_is_unjudged_at_the_asked_point_saying_why():
    asked = RejoinAsked(0.2, DOWNBEATS, tempo_bpm=120.0)
    early = report(None, asked, take_s=8.0, part_s=24.0)
    assert (early.at_s, early.score, early.crossfade_s, early.on) == (0.2, 0.0, 0.1, "time")
    assert early.unjudged.startswith("the asked point is 0.2 s after the take's start: too soon")
    short = report(None, RejoinAsked(12.0, DOWNBEATS, tempo_bpm=120.0), take_s=20.0, part_s=12.3)
    assert short.unjudged.startswith("the part sent ends 0.3 s after the asked point")
