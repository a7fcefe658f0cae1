"""SQL of the task queue. A task row exists while its scene download or tile processing is queued or
leased; it is deleted in the transaction that applies its result. Workers are woken by NOTIFY on
CHANNEL (sent at commit), never by polling."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from psycopg import AsyncConnection

from libs.domain import models
from services.catalogue.store import codec
from libs.runtime import logs, tracing

Conn = AsyncConnection[Any]
CHANNEL = "geocube_task"


@dataclasses.dataclass
class LeasedTask:
    id: int
    kind: models.TaskKind
    scene_id: int
    tile_id: int | None
    lease_token: uuid.UUID
    lease_expires: dt.datetime
    attempts: int
    # Origin of the task (schema/0010_*.sql): the trace context and request id of the call that made it.
    traceparent: str = ""
    request_id: str = ""


_COLUMNS = "id, kind, scene_id, tile_id, lease_token, lease_expires, attempts, traceparent, request_id"


def _task(row: tuple[Any, ...]) -> LeasedTask:
    return LeasedTask(row[0], models.TaskKind(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8])


def origin() -> tuple[str, str]:
    """(traceparent, request id) of the call being served: what the tasks it creates remember."""
    return tracing.current_traceparent(), str(logs.current().get("request_id", ""))[:128]


async def set_origin(conn: Conn) -> None:
    """Before SQL functions that may create tasks: their column defaults read these (transaction-local)
    settings. Nothing to send when the call has neither."""
    traceparent, request_id = origin()
    if traceparent or request_id:
        await conn.execute(
            "SELECT set_config('geocube.traceparent', %s, true), set_config('geocube.request_id', %s, true)",
            (traceparent, request_id),
        )


async def queue_download(conn: Conn, scene_id: int) -> None:
    await queue_downloads(conn, [scene_id])


async def queue_downloads(conn: Conn, scene_ids: list[int]) -> None:
    """One statement and one notification for a whole ingestion (delivered at commit either way)."""
    if not scene_ids:
        return
    await conn.execute(
        "INSERT INTO task (kind, scene_id, traceparent, request_id)"
        " SELECT 'download', id, %s, %s FROM unnest(%s::int[]) AS id ORDER BY id ON CONFLICT DO NOTHING",
        (*origin(), scene_ids),
    )
    await conn.execute("SELECT pg_notify(%s, 'download')", (CHANNEL,))


async def queue_process(conn: Conn, tile_ids: list[int]) -> None:
    if not tile_ids:
        return
    await conn.execute(
        "INSERT INTO task (kind, scene_id, tile_id, traceparent, request_id)"
        " SELECT 'process', t.scene_id, t.id, %s, %s FROM tile t WHERE t.id = ANY(%s) ORDER BY t.id"
        " ON CONFLICT DO NOTHING",
        (*origin(), tile_ids),
    )
    await conn.execute("SELECT pg_notify(%s, 'process')", (CHANNEL,))


@dataclasses.dataclass
class Claim:
    tasks: list[LeasedTask]  # by id
    next_expiry: dt.datetime | None  # earliest lease expiry of `kind` before the claim
    expired: bool  # a lease of `kind` had expired: nothing was claimed, reclaim it first
    # What the leases hand out, read by the claiming statement: the scenes of download tasks; the tiles
    # of process tasks with their previous and reference tiles, each with its scene.
    scenes: dict[int, models.Scene] = dataclasses.field(default_factory=dict)
    tiles: dict[int, models.Tile] = dataclasses.field(default_factory=dict)


_TASK_WIDTH = len(_COLUMNS.split(", "))
_TILE_WIDTH = len(codec.TILE_COLUMNS.split(", "))


async def claim(
    conn: Conn, kind: models.TaskKind, worker_id: str, lease_seconds: float, limit: int = 1,
    unless_expired: bool = True,
) -> Claim:
    """Leases the `limit` oldest queued tasks of `kind` and reads their items, in one statement; SKIP
    LOCKED lets concurrent claims (any replica) pass each other without ever handing one task to two
    workers.

    With `unless_expired`, nothing is claimed while a lease of `kind` has expired (`expired` says so):
    the caller takes those back first, as it did with a query of its own before every claim; the check
    and the earliest expiry (for a long-poll's wake-up) ride on the claim's round trip. So do the items:
    one row per task and item (a process task's tile, its previous and its reference tile), read in the
    statement's snapshot (two more round trips before). An item deleted meanwhile (DeleteAoi) is absent.

    The claiming transaction commits without waiting for its WAL flush (synchronous_commit off for it
    alone, set by the same statement: no round trip). A lease need not survive a power cut: lost, its
    task is queued again as it was, and the worker's report under the forgotten token is refused, as
    after any lost lease (the work is redone). Once a report under it commits, the lease is durable too:
    the WAL is flushed in order. Reports keep synchronous commits (workflow/group_commit.py)."""
    cur = await conn.execute(
        "WITH soonest AS (SELECT min(lease_expires) AS expiry FROM task WHERE kind = %(kind)s"
        " AND state = 'leased'),"
        " due AS (SELECT %(check)s AND coalesce(expiry < now(), false) AS expired FROM soonest),"
        # The kind as a literal (an enum's value): the plan uses that kind's ready index (0013_*.sql).
        f" picked AS (SELECT id FROM task WHERE kind = '{kind.value}' AND state = 'queued'"
        " AND NOT (SELECT expired FROM due) ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
        " no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true)),"
        " claimed AS (UPDATE task SET state = 'leased', lease_token = gen_random_uuid(),"
        " lease_expires = now() + make_interval(secs => %(secs)s), worker_id = %(worker)s,"
        " attempts = attempts + 1, progress = ''"
        " FROM picked, no_flush_wait WHERE task.id = picked.id"
        f" RETURNING {', '.join('task.' + c for c in _COLUMNS.split(', '))}),"
        # The tiles to read: each process task's own, then its previous and reference tiles.
        " linked AS (SELECT c.id AS task_id, x.tile_id FROM claimed c JOIN tile own ON own.id = c.tile_id"
        " CROSS JOIN LATERAL unnest(ARRAY[own.id, own.prev, own.ref]) AS x(tile_id)"
        " WHERE x.tile_id IS NOT NULL),"
        " items AS (SELECT c.id AS task_id, l.tile_id, c.scene_id FROM claimed c"
        " LEFT JOIN linked l ON l.task_id = c.id)"
        f" SELECT so.expiry, d.expired, c.*, {codec.TILE_COLUMNS}, {codec.SCENE_COLUMNS}"
        " FROM soonest so CROSS JOIN due d LEFT JOIN claimed c ON true"
        " LEFT JOIN items i ON i.task_id = c.id"
        " LEFT JOIN tile t ON t.id = i.tile_id"
        " LEFT JOIN scene s ON s.id = coalesce(t.scene_id, i.scene_id)",
        {"kind": kind.value, "check": unless_expired, "limit": max(limit, 1), "secs": lease_seconds,
         "worker": worker_id},
    )
    rows = await cur.fetchall()
    claimed: dict[int, LeasedTask] = {}
    scenes: dict[int, models.Scene] = {}
    tile_rows: dict[int, tuple[Any, ...]] = {}
    tile_at, scene_at = 2 + _TASK_WIDTH, 2 + _TASK_WIDTH + _TILE_WIDTH
    for row in rows:
        if row[2] is None:
            continue  # nothing claimed: the one row of soonest x due
        if row[2] not in claimed:
            claimed[row[2]] = _task(row[2:tile_at])
        if row[scene_at] is not None and row[scene_at] not in scenes:
            scenes[row[scene_at]] = codec.scene_from_row(row[scene_at:])
        if row[tile_at] is not None:
            tile_rows[row[tile_at]] = row[tile_at:scene_at]
    tiles = {tile_id: codec.tile_from_row(row, scenes.get(row[2])) for tile_id, row in tile_rows.items()}
    return Claim(
        sorted(claimed.values(), key=lambda t: t.id), rows[0][0], bool(rows[0][1]), scenes, tiles
    )


async def first_expired(conn: Conn, kind: models.TaskKind) -> int | None:
    """Id of a task of `kind` whose lease expired (its worker died or hung); not locked."""
    cur = await conn.execute(
        "SELECT id FROM task WHERE kind = %s AND state = 'leased' AND lease_expires < now()"
        " ORDER BY lease_expires LIMIT 1",
        (kind.value,),
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def take_expired(conn: Conn, task_id: int) -> LeasedTask | None:
    """Locks that task if its lease is still expired and nobody else holds it, for the caller to requeue
    or fail in its transaction (the caller has locked its AOI first: the order every writer follows)."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM task WHERE id = %s AND state = 'leased' AND lease_expires < now()"
        " FOR UPDATE SKIP LOCKED",
        (task_id,),
    )
    row = await cur.fetchone()
    return _task(row) if row else None


async def next_expiry(conn: Conn, kind: models.TaskKind) -> dt.datetime | None:
    cur = await conn.execute(
        "SELECT min(lease_expires) FROM task WHERE kind = %s AND state = 'leased'", (kind.value,)
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def lock_leased(conn: Conn, task_id: int, token: str) -> LeasedTask | None:
    """The task if `token` still holds its lease (even past expiry, as long as nobody took it back: the
    caller checks `lease_expired`)."""
    try:
        token_uuid = uuid.UUID(token)
    except ValueError:
        return None
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM task WHERE id = %s AND lease_token = %s AND state = 'leased' FOR UPDATE",
        (task_id, token_uuid),
    )
    row = await cur.fetchone()
    return _task(row) if row else None


async def lease_expired(conn: Conn, task_id: int) -> bool:
    """Whether the lease of that (locked, leased) task has expired: its holder may no longer report."""
    cur = await conn.execute("SELECT lease_expires < now() FROM task WHERE id = %s", (task_id,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def lease_holder(conn: Conn, task_id: int, token: str) -> str | None:
    """The worker id lease `token` of that task was granted to; None when that lease is not held. A token
    names one lease, and its worker id never changes: no lock is needed."""
    try:
        token_uuid = uuid.UUID(token)
    except ValueError:
        return None
    cur = await conn.execute(
        "SELECT worker_id FROM task WHERE id = %s AND lease_token = %s AND state = 'leased'",
        (task_id, token_uuid),
    )
    row = await cur.fetchone()
    return str(row[0] or "") if row else None


async def extend(conn: Conn, task_id: int, lease_seconds: float, progress: str) -> dt.datetime:
    cur = await conn.execute(
        "UPDATE task SET lease_expires = now() + make_interval(secs => %s), progress = %s WHERE id = %s"
        " RETURNING lease_expires",
        (lease_seconds, progress, task_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def requeue(conn: Conn, task_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE task SET state = 'queued', lease_token = NULL, lease_expires = NULL, last_error = %s"
        " WHERE id = %s",
        (error, task_id),
    )
    await conn.execute("SELECT pg_notify(%s, kind) FROM task WHERE id = %s", (CHANNEL, task_id))


async def delete(conn: Conn, task_id: int) -> None:
    await conn.execute("DELETE FROM task WHERE id = %s", (task_id,))
