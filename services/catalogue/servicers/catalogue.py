"""Catalogue gRPC servicer: protos in, domain calls, protos out. No logic lives here: an RPC that takes a
payload validates it first, once, with services/catalogue/payload.py, and hands on the result."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from google.protobuf import duration_pb2
from psycopg_pool import AsyncConnectionPool

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, types_pb2
from services.catalogue import payload, reports, tiling
from services.catalogue.ingestion import Ingestion, ingested_tiles
from services.catalogue.search.inventory import SceneInventory
from services.catalogue.store import aois
from services.catalogue.tasks.queue import TaskNotifier
from libs.domain import models
from libs.domain import proto_convert as pc
from libs.runtime.errors import NotFound

_MAX_WAIT = 60.0  # seconds; a longer long-poll would outlive common proxy idle timeouts


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServicer):
    def __init__(self, pool: AsyncConnectionPool[Any], inventory: SceneInventory, tiler: tiling.Tiler,
                 ingestion: Ingestion, notifier: TaskNotifier, placement: payload.Placement | None = None):
        self._pool = pool
        self._placement = placement or payload.Placement()
        self._tiler = tiler
        self._notifier = notifier
        self._inventory = inventory
        self._ingestion = ingestion

    async def SearchScenes(
        self, request: catalogue_pb2.SearchScenesRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.SearchScenesResponse:
        # Parsing a large geometry (up to the 4 MB message limit: ~170 ms) and searching (files, remote
        # catalogues) run in a thread: the event loop keeps serving leases and long-polls meanwhile.
        valid = await asyncio.to_thread(payload.for_search, pc.area_from_proto(request.area))
        scenes, has_next = await asyncio.to_thread(self._inventory.search, valid)
        return catalogue_pb2.SearchScenesResponse(
            scenes=[pc.catalog_scene_to_proto(s) for s in scenes], next=has_next
        )

    async def ListTiles(
        self, request: catalogue_pb2.ListTilesRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListTilesResponse:
        valid = await asyncio.to_thread(payload.for_tiling, pc.area_from_proto(request.area))
        given = [pc.catalog_scene_from_proto(s) for s in request.scenes]
        # Burst tiling reads and parses annotation files: keep the event loop free.
        existing = await ingested_tiles(self._pool, valid.area.name)
        scenes = await asyncio.to_thread(self._tiler, valid, given, existing)
        return catalogue_pb2.ListTilesResponse(scenes=[pc.catalog_scene_to_proto(s) for s in scenes])

    async def IngestArea(
        self, request: catalogue_pb2.IngestAreaRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.IngestAreaResponse:
        started = time.perf_counter()
        source = request.WhichOneof("source")
        given = [pc.catalog_scene_from_proto(s) for s in getattr(request, source).scenes] if source else None
        scenes, tiles = (given if source == "scenes" else None), (given if source == "tiles" else None)
        valid = await asyncio.to_thread(
            payload.for_ingestion, pc.area_from_proto(request.area), self._placement, scenes, tiles
        )
        n_scenes, n_tiles = await self._ingestion.ingest(valid, scenes, tiles)
        elapsed = duration_pb2.Duration()
        elapsed.FromNanoseconds(int((time.perf_counter() - started) * 1e9))
        return catalogue_pb2.IngestAreaResponse(scene_count=n_scenes, tile_count=n_tiles, elapsed=elapsed)

    async def ListAois(
        self, request: catalogue_pb2.ListAoisRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListAoisResponse:
        async with self._pool.connection() as conn:
            rows = await aois.list_aois(conn, request.pattern or "*")
        return catalogue_pb2.ListAoisResponse(
            aois=[
                types_pb2.Aoi(id=aoi, status=pc.status_to_proto(models.Status(status)))
                for aoi, status in rows
            ]
        )

    async def WaitAoiStatus(self, request: catalogue_pb2.WaitAoiStatusRequest, context: grpc.aio.ServicerContext
                            ) -> catalogue_pb2.WaitAoiStatusResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(request.wait.ToTimedelta().total_seconds(), _MAX_WAIT)
        while True:
            event = self._notifier.aoi_event(request.aoi)  # before the read: no change can be missed
            async with self._pool.connection() as conn:
                current = await aois.get_aoi_status(conn, request.aoi)
            status = pc.status_to_proto(models.Status(current)) if current else types_pb2.STATUS_UNSPECIFIED
            remaining = deadline - loop.time()
            if status != request.known or remaining <= 0 or self._notifier.closing:
                return catalogue_pb2.WaitAoiStatusResponse(status=status, changed=status != request.known)
            try:
                await asyncio.wait_for(event.wait(), timeout=remaining)
            except TimeoutError:
                pass

    async def GetAoiReport(
        self, request: catalogue_pb2.GetAoiReportRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.GetAoiReportResponse:
        async with self._pool.connection() as conn:
            return await reports.aoi_report(conn, request.aoi)

    async def ListScenes(
        self, request: catalogue_pb2.ListScenesRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListScenesResponse:
        status = pc.status_from_proto(request.status)
        async with self._pool.connection() as conn:
            scenes = await aois.list_scenes(
                conn, request.aoi, status.value if status else None, request.page, request.limit
            )
        return catalogue_pb2.ListScenesResponse(scenes=[pc.scene_to_proto(s) for s in scenes])

    async def GetScene(
        self, request: catalogue_pb2.GetSceneRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Scene:
        async with self._pool.connection() as conn:
            scene = await aois.get_scene(conn, request.id)
        if scene is None:
            raise NotFound(f"scene {request.id} not found")
        return pc.scene_to_proto(scene)

    async def ListSceneTiles(
        self, request: catalogue_pb2.ListSceneTilesRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListSceneTilesResponse:
        async with self._pool.connection() as conn:
            tiles = await aois.list_scene_tiles(conn, request.scene_id)
        return catalogue_pb2.ListSceneTilesResponse(tiles=[pc.tile_to_proto(t) for t in tiles])

    async def GetTile(
        self, request: catalogue_pb2.GetTileRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Tile:
        async with self._pool.connection() as conn:
            tile = await aois.get_tile(conn, request.id)
        if tile is None:
            raise NotFound(f"tile {request.id} not found")
        return pc.tile_to_proto(tile)
