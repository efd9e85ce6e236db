"""Durable state: SQLAlchemy tables, Alembic migrations and the ChainStore queries."""

from sparrow_chain.store.engine import make_engine, migrate
from sparrow_chain.store.chains import ChainStore
from sparrow_chain.store.jobs import ClaimedJob, JobQueue
from sparrow_chain.store.stems import ClaimedStems, StemStore

__all__ = ["ChainStore", "ClaimedJob", "ClaimedStems", "JobQueue", "StemStore", "make_engine", "migrate"]
