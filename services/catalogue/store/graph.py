"""SQL of the AOI-level reads and writes: tiles by status, root and leaf tiles, AOI creation/deletion,
data replacement and task cancellation."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from services.catalogue.store import codec
from services.catalogue.store.aois import aoi_condition
from libs.domain import models

Conn = AsyncConnection[Any]


async def list_aoi_tiles(conn: Conn, aoi: str, status: str | None, page: int, limit: int) -> list[models.Tile]:
    where, params = aoi_condition(aoi)
    if status:
        where += " AND t.status = %s"
        params.append(status)
    query = f"SELECT {codec.TILE_COLUMNS} FROM tile t JOIN scene s ON s.id = t.scene_id WHERE {where} ORDER BY t.id"
    if limit > 0:
        query += " LIMIT %s OFFSET %s"
        params += [limit, max(page, 0) * limit]
    cur = await conn.execute(query, params)
    return [codec.tile_from_row(row) for row in await cur.fetchall()]


# Spec §5.3: a root has no previous and no reference; a leaf is nobody's previous. FAILED tiles are neither.
_ROOT = "t.prev IS NULL AND t.ref IS NULL"
_LEAF = "NOT EXISTS (SELECT 1 FROM tile c WHERE c.prev = t.id)"
_LIVE_TILES_OF_AOI = "FROM tile t JOIN scene s ON s.id = t.scene_id WHERE s.aoi_id = %s AND t.status <> 'FAILED'"


async def graph_tiles(conn: Conn, aoi: str, leaves: bool) -> list[models.Tile]:
    """Root or leaf tiles of an AOI (spec §5.3), with their scene (its `aoi` is the requested one)."""
    cur = await conn.execute(
        f"SELECT {codec.TILE_COLUMNS}, {codec.SCENE_COLUMNS} {_LIVE_TILES_OF_AOI}"
        f" AND {_LEAF if leaves else _ROOT} ORDER BY t.id",
        (aoi,),
    )
    n = codec.TILE_COLUMNS.count(",") + 1
    return [codec.tile_from_row(row[:n], codec.scene_from_row(row[n:])) for row in await cur.fetchall()]


async def root_leaf_summary(conn: Conn, aoi: str) -> tuple[int, Any, Any]:
    """(root tile count, earliest scene date of root tiles, latest scene date of leaf tiles)."""
    cur = await conn.execute(
        f"SELECT count(*), min((s.data->>'date')::timestamptz) {_LIVE_TILES_OF_AOI} AND {_ROOT}", (aoi,)
    )
    roots = await cur.fetchone()
    cur = await conn.execute(f"SELECT max((s.data->>'date')::timestamptz) {_LIVE_TILES_OF_AOI} AND {_LEAF}", (aoi,))
    leaves = await cur.fetchone()
    assert roots is not None and leaves is not None
    return int(roots[0]), roots[1], leaves[0]


async def create_aoi(conn: Conn, aoi: str) -> bool:
    cur = await conn.execute("INSERT INTO aoi (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (aoi,))
    return cur.rowcount == 1


async def delete_aoi(conn: Conn, aoi: str) -> tuple[bool, int]:
    """Deletes the AOI; its scenes, tiles and tasks go with it (ON DELETE CASCADE)."""
    cur = await conn.execute(
        "SELECT count(*) FROM task k JOIN scene s ON s.id = k.scene_id WHERE s.aoi_id = %s", (aoi,)
    )
    row = await cur.fetchone()
    tasks = int(row[0]) if row else 0
    cur = await conn.execute("DELETE FROM aoi WHERE id = %s", (aoi,))
    return cur.rowcount == 1, tasks


async def update_scene_data(conn: Conn, scene_id: int, data: models.SceneAttrs) -> bool:
    cur = await conn.execute(
        "UPDATE scene SET data = %s WHERE id = %s", (Jsonb(codec.scene_data_to_json(data)), scene_id)
    )
    return cur.rowcount == 1


async def update_tile_data(conn: Conn, tile_id: int, data: models.TileAttrs) -> bool:
    cur = await conn.execute("UPDATE tile SET data = %s WHERE id = %s", (Jsonb(codec.tile_data_to_json(data)), tile_id))
    return cur.rowcount == 1


async def cancel_scene_task(conn: Conn, scene_id: int) -> None:
    await conn.execute("DELETE FROM task WHERE kind = 'download' AND scene_id = %s", (scene_id,))


async def cancel_tile_task(conn: Conn, tile_id: int) -> None:
    await conn.execute("DELETE FROM task WHERE kind = 'process' AND tile_id = %s", (tile_id,))


async def dot_rows(conn: Conn, aoi: str) -> tuple[list[models.Scene], list[models.Tile]]:
    where, params = aoi_condition(aoi)
    cur = await conn.execute(f"SELECT {codec.SCENE_COLUMNS} FROM scene s WHERE {where} ORDER BY s.id", params)
    scenes = [codec.scene_from_row(row) for row in await cur.fetchall()]
    cur = await conn.execute(
        f"SELECT {codec.TILE_COLUMNS} FROM tile t WHERE t.scene_id = ANY(%s) ORDER BY t.scene_id, t.id",
        ([s.id for s in scenes],),
    )
    return scenes, [codec.tile_from_row(row) for row in await cur.fetchall()]
