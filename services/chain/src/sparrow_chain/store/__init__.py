"""Durable state: SQLAlchemy tables, Alembic migrations and the ChainStore queries."""

from sparrow_chain.store.engine import make_engine, migrate
from sparrow_chain.store.chains import ChainStore
from sparrow_chain.store.moves import Removed
from sparrow_chain.store.queue import Claimed, JobQueue
from sparrow_chain.store.stems import ClaimedStems, StemStore
from sparrow_chain.store.takes import ClaimedJob, Takes

__all__ = [
    "ChainStore", "Claimed", "ClaimedJob", "ClaimedStems", "JobQueue", "Removed", "StemStore", "Takes", "make_engine",
    "migrate",
]
