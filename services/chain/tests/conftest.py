from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from sparrow_chain.domain import Recipe, StoredAudio
from sparrow_chain.store import ChainStore, JobQueue, make_engine, migrate
from sparrow_chain.store.engine import _MIGRATIONS
from sparrow_common.ids import new_id


def stored_audio(key: str, seconds: float = 2.0) -> StoredAudio:
    """What a stored 32 kHz mono WAV of `seconds` would be."""
    return StoredAudio(
        key=key, format="wav", content_type="audio/wav", sample_rate=32000, channels=1,
        duration_s=seconds, size_bytes=int(seconds * 64000) + 44,
    )


class ChainBuilder:
    """Builds chains the way the services would, playing the generation worker's
    part (finish_node) since these tests are about the store."""

    audio = staticmethod(stored_audio)

    def __init__(self, store: ChainStore):
        self.store = store

    def chain(self, owner: str = "ann", seconds: float = 2.0):
        chain_id, root_id = new_id(), new_id()
        return self.store.create_chain(
            owner, chain_id, root_id, "song", "song.wav", stored_audio(f"{chain_id}/{root_id}.wav", seconds)
        )

    def takes(
        self, parent, count: int = 1, owner: str = "ann", ready: bool = True, seconds: float = 3.0,
        from_s: float | None = None, until_s: float | None = None,
    ):
        nodes = self.store.create_takes(owner, parent.id, Recipe(), count, from_s=from_s, until_s=until_s)
        if not ready:
            return nodes
        return [
            self.store.finish_node(n.id, stored_audio(f"{n.chain_id}/{n.id}.wav", seconds)) for n in nodes
        ]


@contextmanager
def _upgraded_from(database_url: str, revision: str, fill: Callable[[Connection], None]):
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        fill(conn)
        conn.commit()
        command.upgrade(config, "head")
        conn.commit()
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def upgraded_from(database_url):
    """`with upgraded_from(revision, fill) as engine`: an engine on the database
    migrated to `revision`, filled there by `fill(conn)` (as an older Sparrow
    left it), then upgraded to the head."""
    return lambda revision, fill: _upgraded_from(database_url, revision, fill)


@pytest.fixture
def old_root():
    """`old_root(conn, moment)`: ann's chain 'c' with a ready root 'r', written
    as plain SQL into the tables an older Sparrow left (for `upgraded_from`)."""

    def write(conn, moment):
        conn.execute(
            text("INSERT INTO chains (id, title, owner_id, created_at, event_seq) VALUES ('c', 't', 'ann', :t, 0)"),
            {"t": moment},
        )
        conn.execute(
            text(
                "INSERT INTO nodes (id, chain_id, status, committed, error_message, progress, filename, created_at, "
                "updated_at, audio_key, audio_format, content_type, sample_rate, channels, duration_s, size_bytes, note) "
                "VALUES ('r', 'c', 'ready', true, '', 1, 'a.wav', :t, :t, 'c/r.wav', 'wav', 'audio/wav', 32000, 1, 4.0, 9, '')"
            ),
            {"t": moment},
        )

    return write


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file at the newest migration, made once for the run and copied
    for each test (running the nine migrations took 0.3-0.5 s a test)."""
    path = tmp_path_factory.mktemp("migrated") / "sparrow.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        # Everything into the file itself, so that a copy of it alone is whole.
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_session_url):
    """(url, engine) of a PostgreSQL schema at the newest migration, made once
    for the run and emptied before each test that uses it."""
    engine = make_engine(postgres_session_url)
    migrate(engine)
    yield postgres_session_url, engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    """Every row of every table gone (but the migration's own), counters restarted."""
    with engine.begin() as conn:
        # A connection a test left open would hold TRUNCATE back forever: fail instead.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'")
        ).scalars()
        names = ", ".join(f'"{table}"' for table in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request, tmp_path):
    """Each test using this runs twice, on SQLite and on PostgreSQL, each at the
    newest migration with no rows: migrated once per run and per database, not
    per test."""
    if request.param == "sqlite":
        path = tmp_path / "sparrow.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield f"sqlite:///{path}"
    else:
        url, engine = request.getfixturevalue("migrated_postgres")
        _empty(engine)
        yield url


@pytest.fixture
def store(migrated_url):
    engine = make_engine(migrated_url)
    yield ChainStore(engine)
    engine.dispose()


@pytest.fixture
def build(store):
    return ChainBuilder(store)


@pytest.fixture
def queue(store):
    return JobQueue(store.engine)
