"""A transaction PostgreSQL chose as a deadlock's victim is run again; any other
error is not (a job's result lost that way ended a sound take in error)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc

from sparrow_chain.store.engine import again_when_chosen


def _failure(orig: Exception) -> exc.OperationalError:
    return exc.OperationalError("UPDATE ...", {}, orig)


def test_a_deadlocks_victim_is_run_again_and_its_answer_kept():
    calls = []

    def finish(job_id):
        calls.append(job_id)
        if len(calls) < 3:
            raise _failure(psycopg.errors.DeadlockDetected("deadlock detected"))
        return ["orphan"]

    assert again_when_chosen(finish, "job-1", pause_s=0) == ["orphan"]
    assert calls == ["job-1"] * 3


def test_a_deadlock_every_time_gives_up_after_the_tries():
    def finish():
        raise _failure(psycopg.errors.DeadlockDetected("deadlock detected"))

    with pytest.raises(exc.OperationalError):
        again_when_chosen(finish, tries=2, pause_s=0)


def test_other_errors_are_not_run_again():
    calls = []

    def finish():
        calls.append(1)
        raise _failure(psycopg.errors.UndefinedTable("no such table"))

    with pytest.raises(exc.OperationalError):
        again_when_chosen(finish, pause_s=0)
    assert calls == [1]
