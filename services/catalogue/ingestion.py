"""IngestArea (spec §3.5): resolve the layers, find and tile the scenes, create or reuse one record per
scene, register scenes and tiles in the workflow. The payload arrives validated (services/catalogue/
payload.py, called once by the servicer); what is checked here needs the registry or the scenes found.
Everything is written in one transaction, so a rejected or failed request leaves nothing behind (the
reference could leave records and an empty AOI)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool

from services.catalogue import tiling
from services.catalogue.bursts.inventory import IngestedTile
from services.catalogue.payload import ValidArea
from services.catalogue.search.inventory import SceneInventory
from services.catalogue.store import aois, graph, registry
from services.catalogue.workflow import ingest
from libs.domain import models
from libs.runtime.errors import InvalidArgument


async def resolve_layers(conn: Any, area: models.Area) -> dict[str, str]:
    """layer name -> instance id; every layer must name an existing instance. The area is validated:
    each layer names one by id, or by variable and instance (payload.check_layers)."""
    instances = {}
    for name, layer in sorted(area.layers.items()):
        field = f"layers.{name}"
        if layer.instance_id:
            found = await registry.find_instance(conn, layer.instance_id)
            if found is None:
                raise InvalidArgument(field, f"unknown instance id {layer.instance_id}")
            instances[name] = found.id
            continue
        variable = await registry.find_variable(conn, layer.variable)
        if variable is None:
            raise InvalidArgument(field, f"unknown variable {layer.variable}")
        match = [i for i in variable.instances if i.name == layer.instance]
        if not match:
            raise InvalidArgument(field, f"unknown instance {layer.instance} for variable {layer.variable}")
        instances[name] = match[0].id
    return instances


def _check_record_tags(area: models.Area, scene: models.CatalogScene) -> None:
    for key, value in area.record_tags.items():
        if scene.tags.get(key) != value:
            raise InvalidArgument(
                "record_tags",
                f"area and scene '{scene.source_id}' have different value for tag '{key}':"
                f" '{value}' != '{scene.tags.get(key, '')}'",
            )


def _link_tags(scene: models.CatalogScene) -> None:
    # Sorted, unlike the reference's random order, so a re-ingestion finds the same record again.
    previous = sorted({t.previous.scene_id for t in scene.tiles if t.previous})
    reference = sorted({t.reference.scene_id for t in scene.tiles if t.reference})
    scene.tags["previous_scenes"] = json.dumps(previous)
    scene.tags["reference_scenes"] = json.dumps(reference)


class Records(Protocol):
    """Where layers are resolved and records kept: the built-in registry (below) or a Geocube server
    (libs/geocube/records.py, when GEOCUBE_CATALOGUE_GEOCUBE_SERVER is set)."""

    # True: `attach` writes rows in the ingestion's transaction (given as `conn`). False: it calls a remote
    # server, so it runs before the transaction (conn None): no pool connection idles in a transaction
    # for the length of those calls.
    in_transaction: bool

    async def resolve_layers(self, area: models.Area) -> dict[str, str]: ...

    async def attach(self, conn: Any, area: models.Area, scenes: Sequence[models.CatalogScene]) -> list[str]:
        """Sets each scene's record_id (inside the ingestion's transaction, or before it: `in_transaction`);
        returns the ids of records created outside it (which the transaction cannot roll back), for
        `discard`."""
        ...

    async def discard(self, record_ids: Sequence[str]) -> None: ...


class RegistryRecords:
    """The built-in registry: records are rows written in the ingestion's own transaction."""

    in_transaction = True

    def __init__(self, pool: AsyncConnectionPool[Any]):
        self._pool = pool

    async def resolve_layers(self, area: models.Area) -> dict[str, str]:
        async with self._pool.connection() as conn:
            return await resolve_layers(conn, area)

    async def attach(self, conn: Any, area: models.Area, scenes: Sequence[models.CatalogScene]) -> list[str]:
        records = await registry.records_by_name(conn, [s.source_id for s in scenes])
        missing = [scene for scene in scenes if not _attach_record(scene, records.get(scene.source_id, []))]
        # One statement for all the new records (one round trip per scene before).
        ids = await registry.create_records(conn, [(s.source_id, s.data.date, s.tags, s.wkt) for s in missing])
        for scene, record_id in zip(missing, ids, strict=True):
            scene.data.record_id = record_id
        return []

    async def discard(self, record_ids: Sequence[str]) -> None:
        return None


def _attach_record(scene: models.CatalogScene, candidates: list[registry.Record]) -> bool:
    """Gives the scene its existing record; False when a record must be created for it."""
    for record in candidates:
        tags = {k: v for k, v in record.tags.items() if k != "processingDate"}
        if record.time == scene.data.date and tags == scene.tags:
            scene.data.record_id = record.id
            return True
    return bool(scene.data.record_id)  # an uploaded scene keeps the record it names


async def ingested_tiles(pool: AsyncConnectionPool[Any], aoi: str) -> list[IngestedTile]:
    """The AOI's root and leaf tiles (not FAILED): new Sentinel-1 dates chain onto leaves and point at roots
    (spec §3.3 step 6). A tile both root and leaf appears once."""
    async with pool.connection() as conn:
        tiles = await graph.graph_tiles(conn, aoi, leaves=False) + await graph.graph_tiles(
            conn, aoi, leaves=True
        )
    unique = {t.id: t for t in tiles}
    return [IngestedTile(t.source_id, t.scene.source_id, t.scene.data.date) for t in unique.values()]


logger = logging.getLogger(__name__)

# A large ingestion changes the tables' shape faster than autovacuum notices (up to a minute): until the
# next ANALYZE the planner, and the plans cached by every pooled session's SQL functions, still see the
# small tables of before — transitions ran at half speed in benchmarks/workflow.py (700 against 1 400/s).
ANALYZE_AFTER_TILES = 1000


class Ingestion:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        inventory: SceneInventory,
        tiler: tiling.Tiler,
        records: Records | None = None,
    ):
        self._pool = pool
        self._inventory = inventory
        self._tiler = tiler
        self._records = records or RegistryRecords(pool)

    async def ingest(
        self,
        valid: ValidArea,
        scenes: list[models.CatalogScene] | None,
        tiled: list[models.CatalogScene] | None,
    ) -> tuple[int, int]:
        """Returns (scenes created, tiles of those scenes). `valid` comes from payload.for_ingestion with
        the same `scenes` / `tiled` (their graph names and storage URIs were checked there)."""
        area = valid.area
        instances = await self._records.resolve_layers(area)
        if tiled is None:
            if scenes is None:
                scenes = (await asyncio.to_thread(self._inventory.search, valid))[0]
            tiled = await asyncio.to_thread(
                self._tiler, valid, scenes, await ingested_tiles(self._pool, area.name)
            )
        todo = [s for s in tiled if s.tiles]
        # Every scene, also those the AOI already has (skipped below), as the reference checks them (spec
        # §3.5 step 4.5): a payload whose tags disagree with its scenes is refused whatever the AOI holds.
        for scene in todo:
            _check_record_tags(area, scene)
        outside: list[str] = []  # records created outside the transaction
        created: dict[str, int] = {}
        committed: dict[str, int] = {}
        for scene in todo:
            _link_tags(scene)
            scene.data.instances_id = dict(instances)
        try:
            if not self._records.in_transaction:
                async with self._pool.connection() as conn:
                    existing = await aois.scene_source_ids(conn, area.name)
                todo = [s for s in todo if s.source_id not in existing]
                outside = await self._records.attach(None, area, todo)
            async with self._pool.connection() as conn, conn.transaction():
                # Again inside: a concurrent ingestion may have added some (their records are discarded).
                existing = await aois.scene_source_ids(conn, area.name)
                todo = [s for s in todo if s.source_id not in existing]
                if self._records.in_transaction:
                    outside = await self._records.attach(conn, area, todo)
                created = await ingest.ingest_scenes(conn, area.name, todo, area.retry_count)
            committed = created
        finally:
            # Spec §3.5 step 7: whatever happened, no record created for a scene that was not ingested.
            kept = {s.data.record_id for s in todo if s.source_id in committed}
            unused = [r for r in outside if r not in kept]
            if unused:
                await self._records.discard(unused)
        tiles = sum(len(s.tiles) for s in todo if s.source_id in created)
        if tiles >= ANALYZE_AFTER_TILES:
            try:
                async with self._pool.connection() as conn:
                    await aois.refresh_statistics(conn)
            except Exception:  # the ingestion is committed: slower plans for a while, not an error
                logger.warning("ANALYZE after ingesting %d tiles failed", tiles, exc_info=True)
        return len(created), tiles
