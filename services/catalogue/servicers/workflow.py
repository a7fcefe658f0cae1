"""Workflow gRPC servicer: control operations and graph reads. Protos in, domain calls, protos out."""

from __future__ import annotations

from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool

from protos.ingester.v1 import workflow_pb2, workflow_pb2_grpc
from services.catalogue.payload import Placement
from services.catalogue.store import aois, graph
from services.catalogue.workflow import control, ingest, transitions
from libs.domain import proto_convert as pc
from libs.runtime.errors import AlreadyExists, InvalidArgument, NotFound


def _status(request: workflow_pb2.UpdateStatusRequest) -> Any:
    status = pc.status_from_proto(request.status)
    if status is None:
        raise InvalidArgument("status", "NEW, PENDING, DONE, RETRY or FAILED")
    return status


class WorkflowServicer(workflow_pb2_grpc.WorkflowServicer):
    def __init__(self, pool: AsyncConnectionPool[Any], placement: Placement | None = None):
        self._pool = pool
        self._placement = placement or Placement()

    async def UpdateSceneStatus(self, request: workflow_pb2.UpdateStatusRequest, context: grpc.aio.ServicerContext
                                ) -> workflow_pb2.UpdateStatusResponse:
        status = _status(request)
        async with self._pool.connection() as conn, conn.transaction():
            if request.force:
                await transitions.force_scene(conn, request.id, status)
                return workflow_pb2.UpdateStatusResponse(done=True)
            done = await transitions.update_scene(conn, request.id, status, None, must_exist=True)
        return workflow_pb2.UpdateStatusResponse(done=done)

    async def UpdateTileStatus(self, request: workflow_pb2.UpdateStatusRequest, context: grpc.aio.ServicerContext
                               ) -> workflow_pb2.UpdateStatusResponse:
        status = _status(request)
        async with self._pool.connection() as conn, conn.transaction():
            if request.force:
                await transitions.force_tile(conn, request.id, status)
                return workflow_pb2.UpdateStatusResponse(done=True)
            done = await transitions.update_tile(conn, request.id, status, None, must_exist=True)
        return workflow_pb2.UpdateStatusResponse(done=done)

    async def RetryAoi(self, request: workflow_pb2.RetryAoiRequest, context: grpc.aio.ServicerContext
                       ) -> workflow_pb2.RetryAoiResponse:
        scenes, tiles, errors = await control.retry_aoi(self._pool, request.aoi, request.force)
        return workflow_pb2.RetryAoiResponse(scenes=scenes, tiles=tiles, errors=errors)

    async def CreateAoi(self, request: workflow_pb2.CreateAoiRequest, context: grpc.aio.ServicerContext
                        ) -> workflow_pb2.CreateAoiResponse:
        if not request.aoi:
            raise InvalidArgument("aoi", "required")
        async with self._pool.connection() as conn:
            if not await graph.create_aoi(conn, request.aoi):
                raise AlreadyExists(f"aoi {request.aoi} already exists")
        return workflow_pb2.CreateAoiResponse()

    async def DeleteAoi(self, request: workflow_pb2.DeleteAoiRequest, context: grpc.aio.ServicerContext
                        ) -> workflow_pb2.DeleteAoiResponse:
        async with self._pool.connection() as conn, conn.transaction():
            existed, cancelled = await graph.delete_aoi(conn, request.aoi)
        return workflow_pb2.DeleteAoiResponse(existed=existed, cancelled_tasks=cancelled)

    async def IngestScene(self, request: workflow_pb2.IngestSceneRequest, context: grpc.aio.ServicerContext
                          ) -> workflow_pb2.IngestSceneResponse:
        scene = pc.catalog_scene_from_proto(request.scene)
        self._placement.check_scenes([scene])
        async with self._pool.connection() as conn, conn.transaction():
            # The AOI is created by CreateAoi (POST /aoi/{aoi}) first, as the reference requires: a typo
            # in the path must not start a new AOI (C35).
            if await aois.get_aoi_status(conn, request.aoi) is None:
                raise NotFound(f"aoi {request.aoi} not found: create it first (POST /aoi/{request.aoi})")
            created = await ingest.ingest_scenes(conn, request.aoi, [scene], request.retry_count)
        if scene.source_id not in created:
            raise AlreadyExists(f"scene {scene.source_id} already exists in aoi {request.aoi}")
        return workflow_pb2.IngestSceneResponse(id=created[scene.source_id])

    async def UpdateSceneData(self, request: workflow_pb2.UpdateSceneDataRequest, context: grpc.aio.ServicerContext
                              ) -> workflow_pb2.UpdateDataResponse:
        data = pc.scene_attrs_from_proto(request.data)
        self._placement.check_scene_attrs(data, "data")
        async with self._pool.connection() as conn:
            if not await graph.update_scene_data(conn, request.id, data):
                raise NotFound(f"scene {request.id} not found")
        return workflow_pb2.UpdateDataResponse()

    async def UpdateTileData(self, request: workflow_pb2.UpdateTileDataRequest, context: grpc.aio.ServicerContext
                             ) -> workflow_pb2.UpdateDataResponse:
        data = pc.tile_attrs_from_proto(request.data)
        self._placement.check_tile_attrs(data, "data")
        async with self._pool.connection() as conn:
            if not await graph.update_tile_data(conn, request.id, data):
                raise NotFound(f"tile {request.id} not found")
        return workflow_pb2.UpdateDataResponse()

    async def ListAoiTiles(self, request: workflow_pb2.ListAoiTilesRequest, context: grpc.aio.ServicerContext
                           ) -> workflow_pb2.ListAoiTilesResponse:
        status = pc.status_from_proto(request.status)
        async with self._pool.connection() as conn:
            tiles = await graph.list_aoi_tiles(conn, request.aoi, status.value if status else None,
                                               request.page, request.limit)
        return workflow_pb2.ListAoiTilesResponse(tiles=[pc.tile_to_proto(t) for t in tiles])

    async def ListRootTiles(self, request: workflow_pb2.ListGraphTilesRequest, context: grpc.aio.ServicerContext
                            ) -> workflow_pb2.ListAoiTilesResponse:
        return await self._graph_tiles(request.aoi, leaves=False)

    async def ListLeafTiles(self, request: workflow_pb2.ListGraphTilesRequest, context: grpc.aio.ServicerContext
                            ) -> workflow_pb2.ListAoiTilesResponse:
        return await self._graph_tiles(request.aoi, leaves=True)

    async def _graph_tiles(self, aoi: str, leaves: bool) -> workflow_pb2.ListAoiTilesResponse:
        async with self._pool.connection() as conn:
            tiles = await graph.graph_tiles(conn, aoi, leaves)
        return workflow_pb2.ListAoiTilesResponse(tiles=[pc.tile_to_proto(t) for t in tiles])

    async def GetAoiDot(self, request: workflow_pb2.GetAoiDotRequest, context: grpc.aio.ServicerContext
                        ) -> workflow_pb2.GetAoiDotResponse:
        async with self._pool.connection() as conn:
            scenes, tiles = await graph.dot_rows(conn, request.aoi)
        return workflow_pb2.GetAoiDotResponse(dot=control.render_dot(request.aoi, scenes, tiles))
