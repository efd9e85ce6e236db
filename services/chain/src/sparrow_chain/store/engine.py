"""Engines for SQLite (WAL, immediate write transactions) and PostgreSQL,
running the Alembic migrations, and PostgreSQL being away.

While PostgreSQL is down or can't be reached, every transaction (`answering`)
raises `Unavailable` with words for users and a retry-after, which the
interceptor answers as UNAVAILABLE and the gateway as 503; the log says so once
when it stops answering and once when it is back, not once a request (an
outage under load logged 965 tracebacks before). SQLite has no server to lose:
its errors, "database is locked" among them, pass through as they are."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from sparrow_common.errors import Unavailable

log = logging.getLogger(__name__)

WRITE = "sparrow_write"
_MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")

# PostgreSQL restarting took 2.7 s when tried; a client asking again after this finds it back.
RETRY_AFTER_S = 5
AWAY = "the database that keeps your songs is not answering; try again in a few seconds"
# SQLSTATE classes of a lost server: connection exceptions (08) and the
# operator's intervention (57P: shutting down, starting up). Others, a deadlock
# (40P01) or a cancelled statement (57014), are the query's own trouble.
_LOST_STATES = ("08", "57P")


def make_engine(url: str, connect_timeout_s: int = 5) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys, a busy timeout, and
    BEGIN IMMEDIATE for write transactions so two writers never deadlock.
    PostgreSQL gets `connect_timeout_s` to answer a new connection, and as long
    for a free one from the pool, before the database counts as away."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=connect_timeout_s,
            connect_args={"connect_timeout": connect_timeout_s},
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's begin event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration. On PostgreSQL an advisory lock
    keeps replicas that start together from migrating twice."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(7305)"))
            conn.commit()
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(7305)"))
                conn.commit()


class _Outage:
    """Whether an engine's database is away, so that its log says so once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.away = False

    def lost(self, error: Exception) -> None:
        with self.lock:
            if self.away:
                return
            self.away = True
        log.warning("the database is not answering (%s); answering 503 until it is back", _first_line(error))

    def answered(self) -> None:
        if not self.away:
            return
        with self.lock:
            if not self.away:
                return
            self.away = False
        log.warning("the database is answering again")


_outages: weakref.WeakKeyDictionary[Engine, _Outage] = weakref.WeakKeyDictionary()
_outages_lock = threading.Lock()


def _outage(engine: Engine) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(engine, _Outage())


def _first_line(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def is_lost(error: Exception) -> bool:
    """Whether `error` says the PostgreSQL server is away (down, restarting,
    unreachable, its pool of connections stuck), not that a query went wrong."""
    if isinstance(error, exc.TimeoutError):  # no connection came free of the pool in time
        return True
    if not isinstance(error, (exc.OperationalError, exc.InterfaceError)):
        return False
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None)
    return state is None or state.startswith(_LOST_STATES)


@contextmanager
def answering(engine: Engine) -> Iterator[None]:
    """Around one transaction: the PostgreSQL server being away, on connecting
    or at any query or the commit, becomes Unavailable (see the module's note);
    a transaction that commits says it is back."""
    outage = _outage(engine)
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
        if engine.dialect.name == "sqlite" or not is_lost(error):
            raise
        outage.lost(error)
        raise Unavailable(AWAY, retry_after_s=RETRY_AFTER_S) from error
    outage.answered()


# A deadlock's victim (40P01) and a serialization failure (40001): PostgreSQL
# rolled the whole transaction back and advises running it again.
_TRY_AGAIN_STATES = ("40P01", "40001")


def again_when_chosen(call: Callable[..., T], *args, tries: int = 3, pause_s: float = 0.05) -> T:
    """`call(*args)`, one whole transaction, run again (up to `tries` in all)
    when PostgreSQL chose it as a deadlock's victim. A job's result landing while
    a move on its chain locks the same rows lost that way under load (bench/faults.py),
    and its take ended in error though nothing was wrong with it."""
    for attempt in range(1, tries + 1):
        try:
            return call(*args)
        except exc.OperationalError as error:
            if attempt == tries or getattr(error.orig, "sqlstate", None) not in _TRY_AGAIN_STATES:
                raise
            log.info("transaction chosen as a deadlock's victim, run again (%d of %d)", attempt + 1, tries)
            time.sleep(pause_s * attempt)
    raise AssertionError("unreachable")
