"""SQL of the queue gauges (services/catalogue/metrics.py reads them at scrape time): two small
aggregates, over the task table (only live tasks: queued or leased) and aoi_status_count (schema/0005)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

_TASKS = (
    "SELECT kind, state, count(*), coalesce(extract(epoch FROM now() - min(created)), 0)"
    " FROM task GROUP BY kind, state"
)
_ITEMS = "SELECT kind, status, sum(n) FROM aoi_status_count GROUP BY kind, status"


async def read(conn: Conn) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(kind, state, count, age of the oldest in seconds) per task group, (kind, status, count) per item
    group."""
    tasks = await (await conn.execute(_TASKS)).fetchall()
    items = await (await conn.execute(_ITEMS)).fetchall()
    return tasks, items
