"""Fixtures every test folder shares: databases (SQLite and the real PostgreSQL),
the tiny models; and how `make test` spreads modules over its parallel workers."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from _pytest.nodeid import coerce_node_id
from sqlalchemy import create_engine, text

# One thread each for numpy's OpenBLAS, OpenMP (torch), MKL and numba, here and in
# every process the tests start (they inherit it; the parallel workers are started
# after this file is read). The tests run several processes on two cores, and a
# library's spare threads spin waiting for work: the listening tests alone took
# 46 CPU-s with them and 29 without, in the same 28 s.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

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


# The session's stacks of real processes (tests/conftest.py) that a worker
# starts for itself when one of its modules asks for one. The modules that
# share one of these run on one worker, so it starts once in a run: the
# listening stack (with the analysis worker, the dearest) and the quiet one
# (whose modules read what is global to it). The shared stack, which nearly
# every end-to-end module uses, and the cheap unloadable one start once a
# worker that asks: joining all their modules would leave one worker the run.
ONE_WORKER_STACKS = ("listening", "hearing", "quiet_stack")

# Seconds the longest modules took on a test worker (runs of 2026-12-07,
# rounded). The scheduler hands the groups out in the order they are collected;
# longest first, none is left to start when the others are nearly done (the
# stems and listening tests, collected last, kept one worker busy half a minute
# after the others had finished).
LONG_MODULES = {
    "tests/test_editor.py": 75, "tests/test_generation_faults.py": 75, "tests/test_editor_papercuts.py": 40,
    "tests/test_editor_starts.py": 30, "services/stems/tests/test_servicer.py": 50,
    "services/analysis/tests/test_listening.py": 45, "tests/test_replicas.py": 45, "tests/test_contract.py": 35,
    "tests/test_stems_export.py": 40, "tests/test_editor_moves.py": 35, "tests/test_editor_timeline.py": 25,
    "tests/test_run_local.py": 25, "tests/test_analysis_turns_flow.py": 25, "tests/test_editor_grid.py": 25,
    "services/generation/tests/test_servicer.py": 20, "tests/test_chain_flow.py": 20, "tests/test_accounts.py": 20,
    "tests/test_faults_storage.py": 20, "tests/test_editor_commands.py": 17, "tests/test_replace_flow.py": 60, "tests/test_editor_stretches.py": 50, "tests/test_faults_connections.py": 14,
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup` (pytest-xdist), every module is a group of its own,
    or one with the modules it shares a one-worker stack with: a module's tests
    stay together (module fixtures start once, and Playwright's event loop is
    never open beside an asyncio test), and each such stack starts once. The
    longest groups come first."""
    # A worker is told `loadgroup` (its own `dist` is "no"): xdist's remote.py.
    if not getattr(config.option, "loadgroup", False):
        return
    modules: dict[str, set[str]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], set()).update(
            name for name in ONE_WORKER_STACKS if name in item.fixturenames
        )
    # Modules joined through the stacks they share (union-find over modules).
    joined = {module: module for module in modules}

    def group(module: str) -> str:
        while joined[module] != module:
            module = joined[module]
        return module

    first_user: dict[str, str] = {}
    for module, stacks in modules.items():
        for stack in stacks:
            joined[group(module)] = group(first_user.setdefault(stack, module))
    length: dict[str, int] = {}
    for module in modules:
        length[group(module)] = length.get(group(module), 0) + LONG_MODULES.get(module, 1)
    items.sort(key=lambda item: -length[group(item.nodeid.split("::")[0])])  # stable: in order within
    for item in items:
        name = group(item.nodeid.split("::")[0])
        item.add_marker(pytest.mark.xdist_group(name))
        # xdist 3.8 puts the group in the test's id through `_nodeid`, which pytest 9
        # no longer reads (it keeps the id in `_id`): the scheduler saw no groups and
        # spread a module's tests over both workers. So the id says it here.
        item._id = coerce_node_id(f"{item.nodeid}@{name}")
