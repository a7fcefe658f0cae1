"""Registering catalogue scenes and tiles in the workflow (spec §5.4), inside the caller's transaction."""

from __future__ import annotations

import re
from typing import Any

from psycopg import AsyncConnection

from services.catalogue.store import aois, tasks
from libs.domain import models
from libs.runtime.errors import FailedPrecondition, InvalidArgument

Conn = AsyncConnection[Any]

# Source ids name folders and files on workers and in storage (<aoi>/<scene>/tiles/<tile>/…): product
# names, burst ids and UUIDs fit; a path separator, `..` or a leading dot never reaches a worker.
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,254}$")


def check_scenes(aoi: str, scenes: list[models.CatalogScene]) -> None:
    """Validation before any write: the first bad scene rejects the whole call."""
    for scene in scenes:
        for source_id in [scene.source_id, *(tile.source_id for tile in scene.tiles)]:
            if not _SOURCE_ID.match(source_id) or ".." in source_id:
                raise InvalidArgument(
                    "scenes",
                    f"source id {source_id!r} of scene[{scene.source_id}]: letters, digits and _ . : -"
                    " only, starting with a letter or digit, no '..'",
                )
        if scene.id != 0:
            raise InvalidArgument("scenes", f"scene[{scene.source_id}] must not have id set")
        if not scene.tiles or len(scene.tiles) != len(scene.data.tiles):
            raise InvalidArgument("scenes", f"scene[{scene.source_id}] has no tiles")
        if scene.aoi != aoi:
            raise InvalidArgument(
                "scenes", f"scene[{scene.source_id}].aoi ({scene.aoi!r}) and aoi ({aoi!r}) are different"
            )


async def ingest_scenes(
    conn: Conn, aoi: str, scenes: list[models.CatalogScene], retry_count: int
) -> dict[str, int]:
    """Creates the scenes (PENDING, one download task each) and their tiles (NEW) in date order, skipping
    scenes the AOI already has. Returns source id -> id of the scenes created now."""
    check_scenes(aoi, scenes)
    await aois.ensure_aoi(conn, aoi)
    # Serialised with the AOI's transitions: a tile failing meanwhile could otherwise become the previous
    # of a new tile after its dependants were re-linked, leaving the new tile waiting forever.
    await aois.lock_aoi(conn, aoi)
    created: dict[str, int] = {}
    independent: list[models.CatalogScene] = []  # consecutive scenes whose tiles depend on no tile
    for scene in sorted(scenes, key=lambda s: (s.data.date, s.source_id)):
        if not any(tile.previous is not None and tile.reference is not None for tile in scene.tiles):
            independent.append(scene)
            continue
        # A tile that chains onto another (Sentinel-1) needs that tile's id: the ones before go first.
        await _insert_independent(conn, aoi, independent, retry_count, created)
        independent = []
        scene_id = await aois.insert_scene(conn, aoi, scene.source_id, scene.data, retry_count)
        if scene_id is None:
            continue
        for tile in scene.tiles:
            prev = ref = None
            if tile.previous is not None and tile.reference is not None:
                prev = await _dependency(conn, aoi, tile, tile.previous)
                ref = await _dependency(conn, aoi, tile, tile.reference)
            await aois.insert_tile(conn, scene_id, tile.source_id, tile.data, prev, ref, retry_count)
        created[scene.source_id] = scene_id
    await _insert_independent(conn, aoi, independent, retry_count, created)
    await tasks.queue_downloads(conn, list(created.values()))
    await aois.refresh_aoi_status(conn, aoi)
    return created


async def _insert_independent(
    conn: Conn, aoi: str, scenes: list[models.CatalogScene], retry_count: int, created: dict[str, int]
) -> None:
    """Scenes and tiles without links in two statements however many (two round trips per scene and
    tile before: most of a large POST's answer time); ids in date order as one by one."""
    ids = await aois.insert_scenes(conn, aoi, [(s.source_id, s.data) for s in scenes], retry_count)
    new = []
    for scene in scenes:
        if scene.source_id in ids and scene.source_id not in created:  # twice in one call: the first
            new.append(scene)
            created[scene.source_id] = ids[scene.source_id]
    await aois.insert_tiles(
        conn, [(ids[s.source_id], t.source_id, t.data) for s in new for t in s.tiles], retry_count
    )


async def _dependency(conn: Conn, aoi: str, tile: models.CatalogTile, link: models.TileRef) -> int:
    found = await aois.find_tile_id(conn, aoi, link.scene_id, link.source_id)
    if found is None or found[1] == models.Status.FAILED.value:
        raise FailedPrecondition(
            f"tile {tile.source_id} of scene {tile.scene_id} depends on tile {link.source_id} of scene "
            f"{link.scene_id}, which is {'FAILED' if found else 'not in AOI ' + aoi}"
        )
    return found[0]
