"""A user's takes against their tier's limits, counted in the transaction that
asks for more, so two requests at once can't both slip under a limit.

Waiting takes are the user's nodes still `pending` or `generating`. Takes per
day are counted in the `usage` table as they are asked (UTC days), so takes
discarded since still count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from sparrow_chain.domain import NodeStatus, TakeLimits, Usage
from sparrow_chain.store.base import upsert
from sparrow_chain.store.tables import chains, nodes, usage
from sparrow_common.errors import OverLimit

# What a refusal for too many waiting takes suggests: about one take's time.
WAITING_RETRY_S = 30


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _resets_in_s(moment: datetime) -> int:
    midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), moment.tzinfo)
    return max(1, int((midnight - moment).total_seconds()) + 1)


def usage_of(conn: Connection, owner: str, moment: datetime) -> Usage:
    waiting = conn.execute(
        select(func.count())
        .select_from(nodes.join(chains, chains.c.id == nodes.c.chain_id))
        .where(
            chains.c.owner_id == owner,
            nodes.c.status.in_([NodeStatus.PENDING.value, NodeStatus.GENERATING.value]),
        )
    ).scalar_one()
    today = conn.execute(
        select(usage.c.takes).where(usage.c.owner_id == owner, usage.c.day == _day(moment))
    ).scalar()
    return Usage(takes_waiting=waiting, takes_today=today or 0, day_resets_in_s=_resets_in_s(moment))


def take(conn: Connection, owner: str, count: int, limits: TakeLimits, moment: datetime) -> None:
    """Count `count` more takes for `owner`, or OverLimit naming the limit."""
    used = usage_of(conn, owner, moment)
    if limits.per_day and used.takes_today + count > limits.per_day:
        left = max(limits.per_day - used.takes_today, 0)
        raise OverLimit(
            f"your tier allows {limits.per_day} takes per day and {left} are left today; "
            f"the count starts again at midnight UTC",
            used.day_resets_in_s,
        )
    if limits.max_waiting and used.takes_waiting + count > limits.max_waiting:
        raise OverLimit(
            f"your tier allows {limits.max_waiting} takes waiting or being made at once and "
            f"{used.takes_waiting} are; ask again when some are ready",
            WAITING_RETRY_S,
        )
    conn.execute(
        upsert(conn, usage)
        .values(owner_id=owner, day=_day(moment), takes=count)
        .on_conflict_do_update(index_elements=[usage.c.owner_id, usage.c.day], set_={"takes": usage.c.takes + count})
    )
