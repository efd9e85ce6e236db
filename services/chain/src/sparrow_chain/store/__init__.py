"""Durable state: SQLAlchemy tables, Alembic migrations and the ChainStore queries."""

from sparrow_chain.store.engine import make_engine, migrate
from sparrow_chain.store.chains import ChainStore

__all__ = ["ChainStore", "make_engine", "migrate"]
