"""SQL of the workflow rows: AOIs, scenes, tiles. Every function takes the caller's connection, so the
caller decides the transaction (a state transition and its task changes commit together)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from services.catalogue.store import codec, tasks
from libs.domain import models

Conn = AsyncConnection[Any]
AOI_CHANNEL = "geocube_aoi"


def aoi_condition(aoi: str, column: str = "s.aoi_id") -> tuple[str, list[Any]]:
    """The reference's AOI matching (spec §5.3): `(?i)` suffix = case-insensitive pattern; `*`/`?` =
    pattern; otherwise exact equality."""
    if aoi.endswith("(?i)"):
        pattern = aoi[: -len("(?i)")].replace("_", "\\_").replace("*", "%").replace("?", "_")
        return f"{column} ILIKE %s", [pattern]
    if "*" in aoi or "?" in aoi:
        pattern = aoi.replace("_", "\\_").replace("*", "%").replace("?", "_")
        return f"{column} LIKE %s", [pattern]
    return f"{column} = %s", [aoi]


async def ensure_aoi(conn: Conn, aoi: str) -> bool:
    cur = await conn.execute("INSERT INTO aoi (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (aoi,))
    return cur.rowcount == 1


async def list_aois(conn: Conn, pattern: str) -> list[tuple[str, str]]:
    like = pattern.replace("_", "\\_").replace("%", "\\%").replace("*", "%").replace("?", "_")
    cur = await conn.execute("SELECT id, status FROM aoi WHERE id LIKE %s ORDER BY id", (like or "%",))
    return [(row[0], row[1]) for row in await cur.fetchall()]


async def scene_source_ids(conn: Conn, aoi: str) -> set[str]:
    cur = await conn.execute("SELECT source_id FROM scene WHERE aoi_id = %s", (aoi,))
    return {row[0] for row in await cur.fetchall()}


async def insert_scene(
    conn: Conn, aoi: str, source_id: str, data: models.SceneAttrs, retry: int
) -> int | None:
    """Inserts a PENDING scene; None if the AOI already has a scene with this source id (skipped)."""
    cur = await conn.execute(
        "INSERT INTO scene (aoi_id, status, source_id, data, retry_countdown) VALUES (%s, 'PENDING', %s, %s, %s)"
        " ON CONFLICT (aoi_id, source_id) DO NOTHING RETURNING id",
        (aoi, source_id, Jsonb(codec.scene_data_to_json(data)), retry),
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def insert_scenes(
    conn: Conn, aoi: str, scenes: list[tuple[str, models.SceneAttrs]], retry: int
) -> dict[str, int]:
    """`insert_scene` for many (source id, data) in one statement, ids given in the list's order; the
    scenes the AOI already has are skipped (absent from the answer: source id -> new id)."""
    if not scenes:
        return {}
    cur = await conn.execute(
        "INSERT INTO scene (aoi_id, status, source_id, data, retry_countdown)"
        " SELECT %s, 'PENDING', i.source_id, i.data, %s"
        " FROM unnest(%s::text[], %s::jsonb[]) WITH ORDINALITY AS i(source_id, data, ord) ORDER BY i.ord"
        " ON CONFLICT (aoi_id, source_id) DO NOTHING RETURNING id, source_id",
        (aoi, retry, [source_id for source_id, _ in scenes],
         [Jsonb(codec.scene_data_to_json(data)) for _, data in scenes]),
    )
    return {source_id: scene_id for scene_id, source_id in await cur.fetchall()}


async def insert_tiles(
    conn: Conn, tiles: list[tuple[int, str, models.TileAttrs]], retry: int
) -> None:
    """`insert_tile` without previous nor reference for many (scene id, source id, data), one statement,
    ids in the list's order."""
    if not tiles:
        return
    await conn.execute(
        "INSERT INTO tile (scene_id, status, source_id, data, retry_countdown)"
        " SELECT i.scene_id, 'NEW', i.source_id, i.data, %s"
        " FROM unnest(%s::int[], %s::text[], %s::jsonb[]) WITH ORDINALITY AS i(scene_id, source_id, data, ord)"
        " ORDER BY i.ord",
        (retry, [t[0] for t in tiles], [t[1] for t in tiles],
         [Jsonb(codec.tile_data_to_json(t[2])) for t in tiles]),
    )


async def find_tile_id(
    conn: Conn, aoi: str, scene_source_id: str, tile_source_id: str
) -> tuple[int, str] | None:
    cur = await conn.execute(
        "SELECT t.id, t.status FROM tile t JOIN scene s ON s.id = t.scene_id"
        " WHERE s.aoi_id = %s AND s.source_id = %s AND t.source_id = %s",
        (aoi, scene_source_id, tile_source_id),
    )
    row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def insert_tile(
    conn: Conn,
    scene_id: int,
    source_id: str,
    data: models.TileAttrs,
    prev: int | None,
    ref: int | None,
    retry: int,
) -> int:
    cur = await conn.execute(
        "INSERT INTO tile (scene_id, status, source_id, data, prev, ref, retry_countdown)"
        " VALUES (%s, 'NEW', %s, %s, %s, %s, %s) RETURNING id",
        (scene_id, source_id, Jsonb(codec.tile_data_to_json(data)), prev, ref, retry),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def get_scene(conn: Conn, scene_id: int, lock: bool = False) -> models.Scene | None:
    cur = await conn.execute(
        f"SELECT {codec.SCENE_COLUMNS} FROM scene s WHERE s.id = %s" + (" FOR UPDATE" if lock else ""),
        (scene_id,),
    )
    row = await cur.fetchone()
    return codec.scene_from_row(row) if row else None


async def get_tile(
    conn: Conn, tile_id: int, with_scene: bool = True, lock: bool = False
) -> models.Tile | None:
    cur = await conn.execute(
        f"SELECT {codec.TILE_COLUMNS} FROM tile t WHERE t.id = %s" + (" FOR UPDATE" if lock else ""),
        (tile_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    scene = await get_scene(conn, row[2]) if with_scene else None
    return codec.tile_from_row(row, scene)


async def list_scenes(conn: Conn, aoi: str, status: str | None, page: int, limit: int) -> list[models.Scene]:
    where, params = aoi_condition(aoi)
    if status:
        where += " AND s.status = %s"
        params.append(status)
    query = f"SELECT {codec.SCENE_COLUMNS} FROM scene s WHERE {where} ORDER BY s.id"
    if limit > 0:
        query += " LIMIT %s OFFSET %s"
        params += [limit, max(page, 0) * limit]
    cur = await conn.execute(query, params)
    return [codec.scene_from_row(row) for row in await cur.fetchall()]


async def list_scene_tiles(conn: Conn, scene_id: int) -> list[models.Tile]:
    cur = await conn.execute(
        f"SELECT {codec.TILE_COLUMNS} FROM tile t WHERE t.scene_id = %s ORDER BY t.id", (scene_id,)
    )
    return [codec.tile_from_row(row) for row in await cur.fetchall()]


async def set_scene_status(
    conn: Conn, scene_id: int, status: models.Status, message: str | None = None, countdown_delta: int = 0
) -> None:
    await conn.execute(
        "UPDATE scene SET status = %s, message = COALESCE(%s, message), retry_countdown = retry_countdown + %s"
        " WHERE id = %s",
        (status.value, message, countdown_delta, scene_id),
    )


async def set_tile_status(
    conn: Conn, tile_id: int, status: models.Status, message: str | None = None, countdown_delta: int = 0
) -> None:
    await conn.execute(
        "UPDATE tile SET status = %s, message = COALESCE(%s, message), retry_countdown = retry_countdown + %s"
        " WHERE id = %s",
        (status.value, message, countdown_delta, tile_id),
    )


def _is_serial(row_id: int) -> bool:
    """Whether an id (int64 in the protos) can name a `serial` row. The functions take `integer`: a
    larger Python int is sent as bigint, and no function matches (an error, where "not found" is true)."""
    return 0 < row_id <= 2**31 - 1


async def finish_scene(conn: Conn, scene_id: int, force: bool = False) -> bool | None:
    """FinishScene (schema/0004_*.sql; the caller holds the AOI lock); None for an unknown scene, False
    if its status refuses DONE."""
    if not _is_serial(scene_id):
        return None
    await tasks.set_origin(conn)  # for the process tasks it creates
    cur = await conn.execute("SELECT geocube_finish_scene(%s, %s)", (scene_id, force))
    row = await cur.fetchone()
    return row[0] if row else None


async def release_if_ready(conn: Conn, tile_id: int) -> list[int]:
    """A NEW tile whose scene is downloaded -> PENDING (used when a failure heals the chain)."""
    cur = await conn.execute(
        "UPDATE tile t SET status = 'PENDING' FROM scene s WHERE t.id = %s AND t.status = 'NEW'"
        " AND s.id = t.scene_id AND s.status = 'DONE' RETURNING t.id",
        (tile_id,),
    )
    return [row[0] for row in await cur.fetchall()]


async def relink_children(conn: Conn, tile_id: int, new_prev: int | None) -> list[int]:
    cur = await conn.execute("UPDATE tile SET prev = %s WHERE prev = %s RETURNING id", (new_prev, tile_id))
    return sorted(row[0] for row in await cur.fetchall())


async def replace_reference(conn: Conn, old_ref: int, new_root: int) -> None:
    await conn.execute("UPDATE tile SET ref = NULL WHERE id = %s AND ref = %s", (new_root, old_ref))
    await conn.execute("UPDATE tile SET ref = %s WHERE ref = %s", (new_root, old_ref))


async def detach_tile(conn: Conn, tile_id: int) -> None:
    await conn.execute("UPDATE tile SET prev = NULL WHERE id = %s", (tile_id,))


# Serialising the transitions of one AOI (the reference's process-wide mutex, here per AOI and across
# catalogue replicas). Without it two concurrent transactions each miss the other's uncommitted change: a
# scene download and the previous tile's DONE committing together both see "not ready yet" and the tile
# stays NEW forever; two AOI status refreshes can each write a status computed from a stale view. Every
# transition takes this lock first (before any task, scene or tile row lock), so the order is always
# AOI -> rows. NO KEY UPDATE does not block the KEY SHARE locks of foreign keys (ingestion inserting
# scenes) but does block DeleteAoi, which then waits for the transition to commit.
_LOCK_AOI = "SELECT 1 FROM aoi a {join} WHERE {where} = %s FOR NO KEY UPDATE OF a"


async def lock_aoi(conn: Conn, aoi: str) -> None:
    await conn.execute(_LOCK_AOI.format(join="", where="a.id"), (aoi,))


async def lock_aoi_of_scene(conn: Conn, scene_id: int) -> None:
    await conn.execute(_LOCK_AOI.format(join="JOIN scene s ON s.aoi_id = a.id", where="s.id"), (scene_id,))


async def lock_aoi_of_tile(conn: Conn, tile_id: int) -> None:
    join = "JOIN scene s ON s.aoi_id = a.id JOIN tile t ON t.scene_id = s.id"
    await conn.execute(_LOCK_AOI.format(join=join, where="t.id"), (tile_id,))


async def lock_aoi_of_task(conn: Conn, task_id: int) -> None:
    join = "JOIN scene s ON s.aoi_id = a.id JOIN task k ON k.scene_id = s.id"
    await conn.execute(_LOCK_AOI.format(join=join, where="k.id"), (task_id,))


async def refresh_aoi_status(conn: Conn, aoi: str, is_retry: bool = False) -> None:
    """Spec §5.8, in SQL (schema/0003_*.sql): written and notified on AOI_CHANNEL only when it changes."""
    await conn.execute("SELECT geocube_refresh_aoi_status(%s, %s)", (aoi, is_retry))


async def finish_tile(conn: Conn, tile_id: int, force: bool = False) -> bool | None:
    """FinishTile in one round trip (schema/0003_*.sql; one more to set the origin of a traced call);
    None for an unknown tile, False if refused."""
    if not _is_serial(tile_id):
        return None
    await tasks.set_origin(conn)  # for the process tasks it creates
    cur = await conn.execute("SELECT geocube_finish_tile(%s, %s)", (tile_id, force))
    row = await cur.fetchone()
    return row[0] if row else None


async def refresh_statistics(conn: Conn) -> None:
    """ANALYZE of the workflow tables; new statistics also invalidate every session's cached plans."""
    await conn.execute("ANALYZE scene, tile, task")


async def get_aoi_status(conn: Conn, aoi: str) -> str | None:
    cur = await conn.execute("SELECT status FROM aoi WHERE id = %s", (aoi,))
    row = await cur.fetchone()
    return row[0] if row else None


async def status_counts(conn: Conn, aoi: str) -> tuple[dict[str, int], dict[str, int]]:
    cur = await conn.execute("SELECT status, count(*) FROM scene WHERE aoi_id = %s GROUP BY status", (aoi,))
    scenes = {row[0]: row[1] for row in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT t.status, count(*) FROM tile t JOIN scene s ON s.id = t.scene_id WHERE s.aoi_id = %s"
        " GROUP BY t.status",
        (aoi,),
    )
    tiles = {row[0]: row[1] for row in await cur.fetchall()}
    return scenes, tiles
