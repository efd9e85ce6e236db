"""Learns what other chain replicas write, through PostgreSQL LISTEN/NOTIFY.

Every event a replica logs is NOTIFYed with its chain's id, and every job it
queues or releases from its wait on a channel of its own (see `store.base`). This replica's watchers of
that chain wake at once, and its dispatcher looks for the new job, instead of
waiting for their next poll. SQLite is one process: there is nothing to learn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from sparrow_chain.store.base import EVENTS_CHANNEL, JOBS_CHANNEL

log = logging.getLogger(__name__)

# After a lost connection: again after RETRY_S, doubling up to RETRY_MAX_S
# while the database stays away (the log says so once, not each try).
RETRY_S = 1.0
RETRY_MAX_S = 10.0


def conninfo(database_url: str) -> str | None:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL; None for SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def follow_notices(
    database_url: str,
    on_event: Callable[[str], None],
    on_job: Callable[[], None],
    on_reconnect: Callable[[], None],
) -> None:
    """Call `on_event(chain_id)` for every chain's new event and `on_job()` for
    every new job, until cancelled. After a lost connection, `on_reconnect()`
    says that some notifications may have been missed."""
    info = conninfo(database_url)
    if info is None:
        return
    pause, lost = RETRY_S, False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(info, autocommit=True) as conn:
                await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                log.info("following other replicas' writes")
                pause, lost = RETRY_S, False
                on_reconnect()
                async for note in conn.notifies():
                    if note.channel == EVENTS_CHANNEL:
                        on_event(note.payload)
                    else:
                        on_job()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the database may be away for a while
            if not lost:
                log.warning("lost the database's notifications (%s); trying again until it is back", error)
            else:
                log.debug("the database's notifications are still away (%s); again in %.0fs", error, pause)
            lost = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_S)
