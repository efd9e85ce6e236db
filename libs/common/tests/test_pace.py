import pytest

from sparrow_common.pace import Pace


class Clock:
    def __init__(self, at: float = 100.0):
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_time_left_comes_from_the_steps_per_second_since_the_first_update():
    clock = Clock()
    pace = Pace(clock)
    assert pace.eta_s(1, 101) is None  # one update shows no pace yet
    clock.at += 2.0
    # 20 steps in 2 s: 10 per second, 80 to go.
    assert pace.eta_s(21, 101) == pytest.approx(8.0)
    clock.at += 2.0
    assert pace.eta_s(41, 101) == pytest.approx(6.0)
    clock.at += 6.0
    assert pace.eta_s(101, 101) == 0.0


def test_a_slower_pace_shows_more_time_left():
    clock = Clock()
    pace = Pace(clock)
    pace.eta_s(1, 101)
    clock.at += 2.0
    assert pace.eta_s(21, 101) == pytest.approx(8.0)
    clock.at += 8.0  # the model slowed down: 40 steps in 10 s so far, 60 to go
    assert pace.eta_s(41, 101) == pytest.approx(15.0)


def test_the_wait_before_the_first_step_is_not_counted():
    clock = Clock()
    pace = Pace(clock)
    clock.at += 30.0  # queued, loading the prompt...
    pace.eta_s(1, 11)
    clock.at += 1.0
    assert pace.eta_s(6, 11) == pytest.approx(1.0)


def test_no_estimate_while_no_step_was_timed():
    clock = Clock()
    pace = Pace(clock)
    pace.eta_s(5, 50)
    assert pace.eta_s(5, 50) is None  # no new step
    clock.at += 1.0
    assert pace.eta_s(5, 50) is None
