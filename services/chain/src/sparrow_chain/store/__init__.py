"""Durable state: SQLAlchemy tables, Alembic migrations and the ChainStore queries."""

from sparrow_chain.store.engine import make_engine, migrate
from sparrow_chain.store.chains import ChainStore
from sparrow_chain.store.jobs import ClaimedJob, JobQueue

__all__ = ["ChainStore", "ClaimedJob", "JobQueue", "make_engine", "migrate"]
