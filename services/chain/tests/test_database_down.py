"""PostgreSQL away: the store's transactions raise Unavailable (503 with
Retry-After at the gateway) and the log says so once; a query's own trouble,
and SQLite's "database is locked", pass through as they were."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest
from sqlalchemy import exc

from sparrow_chain.store import ChainStore, make_engine
from sparrow_chain.store.engine import answering, is_lost
from sparrow_common.errors import Unavailable
from sparrow_common.processes import free_port


def test_a_server_nobody_answers_on_is_unavailable_and_logged_once(caplog):
    # Nothing listens on a fresh free port: connecting is refused, as when PostgreSQL is down.
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/sparrow", connect_timeout_s=2)
    store = ChainStore(engine)
    with caplog.at_level(logging.WARNING, logger="sparrow_chain.store.engine"):
        for _ in range(3):
            with pytest.raises(Unavailable) as raised:
                store.audio_keys()
            assert raised.value.retry_after_s > 0
            assert "try again" in str(raised.value)
    assert [record.message.split(" (")[0] for record in caplog.records] == ["the database is not answering"]
    engine.dispose()


def test_a_deadlock_or_a_cancelled_statement_is_not_an_outage():
    for error in (psycopg.errors.DeadlockDetected(), psycopg.errors.QueryCanceled()):
        assert not is_lost(exc.OperationalError("SELECT 1", {}, error))
    assert is_lost(exc.OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown()))
    assert is_lost(exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection failed")))


def test_sqlite_locked_passes_through(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/sparrow.db")
    locked = exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
    with pytest.raises(exc.OperationalError):
        with answering(engine):
            raise locked
    engine.dispose()
