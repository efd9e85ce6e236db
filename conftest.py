"""Fixtures every test folder shares: databases (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("SPARROW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def _fresh_schema():
    """A URL to a fresh, empty schema on the real PostgreSQL server, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh, empty schema on the real PostgreSQL server for one test."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture(scope="module")
def postgres_module_url():
    """A fresh, empty schema on the real PostgreSQL server for a module's tests."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_session_url():
    """A fresh, empty schema on the real PostgreSQL server for the whole run."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sparrow.db"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory):
    """A tiny MusicGen with random weights saved as a model folder, loaded by the
    tests through the same from_pretrained path as a released checkpoint."""
    from sparrow_generation.engine.tiny import build_random_musicgen

    return build_random_musicgen(tmp_path_factory.mktemp("models") / "tiny-musicgen")


@pytest.fixture(scope="session")
def tiny_htdemucs(tmp_path_factory):
    """Tiny HTDemucs models with random weights saved as a demucs model folder,
    loaded through the same get_model(name, repo=folder) path as the released
    weights: `htdemucs` (four stems) and `htdemucs_6s` (six)."""
    from sparrow_stems.engine.tiny import SIX_STEMS, build_random_htdemucs

    folder = build_random_htdemucs(tmp_path_factory.mktemp("models") / "tiny-htdemucs")
    # And a six-stem one beside it, by the name of Meta's (htdemucs_6s).
    return build_random_htdemucs(folder, name="htdemucs_6s", sources=SIX_STEMS, seed=6)
