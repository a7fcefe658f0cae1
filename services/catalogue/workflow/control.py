"""AOI-level control (spec §5.9) and the dot graph (spec §5.10)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from services.catalogue.store import aois, graph
from services.catalogue.workflow import transitions
from libs.domain import models
from libs.domain.models import Status
from libs.runtime.errors import IngesterError

_COLORS = {"NEW": "gray", "PENDING": "blue", "RETRY": "orange", "DONE": "green", "FAILED": "red"}


async def retry_aoi(pool: AsyncConnectionPool[Any], aoi: str, force: bool) -> tuple[int, int, list[str]]:
    """Retries what is in RETRY (forced: every scene not DONE and every tile of a DONE scene not DONE —
    the reference also re-downloads DONE scenes, spec §11.7). Each item in its own transaction; refusals
    are collected and the others still retried."""
    async with pool.connection() as conn:
        scenes = await aois.list_scenes(conn, aoi, None, 0, 0)
        tiles = await graph.list_aoi_tiles(conn, aoi, None, 0, 0)
    done_scenes = {s.id for s in scenes if s.status == Status.DONE}
    errors: list[str] = []
    n_scenes = n_tiles = 0
    for scene in scenes:
        if scene.status == Status.RETRY or (force and scene.status not in (Status.DONE, Status.PENDING)):
            n_scenes += await _attempt(pool, errors, f"scene {scene.id}", transitions.force_scene, scene.id)
    # Tiles of scenes that were just re-downloaded restart with their scene; only downloaded ones here.
    for tile in tiles:
        wanted = tile.status == Status.RETRY or (force and tile.status in (Status.NEW, Status.FAILED))
        if wanted and tile.scene.id in done_scenes:
            n_tiles += await _attempt(pool, errors, f"tile {tile.id}", transitions.force_tile, tile.id)
    return n_scenes, n_tiles, errors


async def _attempt(pool: AsyncConnectionPool[Any], errors: list[str], what: str, action: Any, item_id: int) -> int:
    try:
        async with pool.connection() as conn, conn.transaction():
            await action(conn, item_id, Status.PENDING)
        return 1
    except (IngesterError, psycopg.errors.ForeignKeyViolation) as exc:
        errors.append(f"{what}: {exc}")
        return 0


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(aoi: str, scenes: list[models.Scene], tiles: list[models.Tile]) -> str:
    """Graphviz text of the AOI, lines in the reference's order: scene nodes, tile nodes, then per scene
    its scene -> tile and previous -> tile edges. Unlike the reference (spec §11.12) the graph name is
    quoted and the dotted style of an edge sits inside its brackets, so every DOT parser reads it."""
    lines = [f"digraph {_quote(aoi)} {{"]
    by_scene: dict[int, list[models.Tile]] = {}
    for tile in tiles:
        by_scene.setdefault(tile.scene.id, []).append(tile)
    for scene in scenes:
        color = _COLORS.get(scene.status.value, "white")
        lines.append(f's{scene.id} [label="{scene.source_id}\\n(id={scene.id})" shape=box color={color}];')
    for scene in scenes:
        for tile in by_scene.get(scene.id, []):
            color = _COLORS.get(tile.status.value, "white")
            lines.append(f't{tile.id} [label="{tile.source_id}\\n(id={tile.id})" color={color}];')
    for scene in scenes:
        dotted = "" if scene.status == Status.DONE else " style=dotted"
        for tile in by_scene.get(scene.id, []):
            lines.append(f"s{scene.id} -> t{tile.id} [color=gray{dotted}];")
            if tile.previous_id is not None:
                style = "" if tile.status == Status.DONE else " [style=dotted]"
                lines.append(f"t{tile.previous_id} -> t{tile.id}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
