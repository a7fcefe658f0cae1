"""The dashboard (`/ui`): its page and vendored assets (public: they hold no data), and the JSON reads the
page makes (authenticated like every data endpoint: the page sends the Bearer token it asked for).

The JSON reads are our extension (docs/compatibility.md G50), composed from the catalogue's existing RPCs
so the catalogue gains nothing for the page: counts from GetAoiReport, scenes from ListScenes, tiles from
ListAoiTiles, footprints from the registry records the ingestion created for each scene (ListRecords).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import shapely
import shapely.geometry
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from gateway import responses
from gateway.errors import GatewayError
from gateway.refjson.views import status_name
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import catalogue_pb2, registry_pb2, types_pb2, workflow_pb2
from libs.domain import wkt as wkt_text

STATIC = pathlib.Path(__file__).resolve().parents[1] / "static"
# Catalogue calls in flight at once for one page read (one report per AOI, one record lookup per scene):
# enough to hide the round trips, few enough not to crowd the catalogue's pool out for the workers.
_FAN_OUT = 8

T = TypeVar("T")
U = TypeVar("U")


async def _bounded(items: list[T], fetch: Callable[[T], Awaitable[U]]) -> list[U]:
    gate = asyncio.Semaphore(_FAN_OUT)

    async def one(item: T) -> U:
        async with gate:
            return await fetch(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


def _aoi_name(call: Call) -> str:
    name: str = call.params["aoi"]
    # The monitoring RPCs read `*`/`?` as patterns; the page always names one AOI.
    if "*" in name or "?" in name:
        raise GatewayError(400, f"aoi: one AOI id expected, got the pattern {name!r}")
    return name


def _json(value: Any) -> Response:
    return responses.json_body(json.dumps(value, separators=(",", ":")))


def counts(value: catalogue_pb2.StatusCounts) -> dict[str, int]:
    return {k: getattr(value, k) for k in ("new", "pending", "done", "retry", "failed", "total")}


async def _summary(call: Call, aoi: types_pb2.Aoi) -> dict[str, Any]:
    stub = call.gateway.client.catalogue
    report = await call.rpc(stub.GetAoiReport, catalogue_pb2.GetAoiReportRequest(aoi=aoi.id))
    return {
        "id": aoi.id,
        "status": status_name(aoi.status),
        "scenes": counts(report.scenes),
        "tiles": counts(report.tiles),
    }


async def page(call: Call) -> Response:
    # no-store: a new release's page must not run against an old cached copy.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def list_aois(call: Call) -> Response:
    """`[{"id","status","scenes":{counts},"tiles":{counts}}]`: every AOI with its progress."""
    stub = call.gateway.client.catalogue
    answer = await call.rpc(stub.ListAois, catalogue_pb2.ListAoisRequest())
    return _json(await _bounded(list(answer.aois), lambda aoi: _summary(call, aoi)))


async def aoi_summary(call: Call) -> Response:
    """`{"id","status","scenes":{counts},"tiles":{counts}}` of one AOI (404 if unknown)."""
    name = _aoi_name(call)
    stub = call.gateway.client.catalogue
    # ListAois with the exact id as pattern: the AOI's status, and a clean 404 when there is none.
    answer = await call.rpc(stub.ListAois, catalogue_pb2.ListAoisRequest(pattern=name))
    found = [aoi for aoi in answer.aois if aoi.id == name]
    if not found:
        raise GatewayError(404, f"aoi: unknown AOI {name!r}")
    return _json(await _summary(call, found[0]))


def _tile(tile: types_pb2.Tile) -> dict[str, Any]:
    return {
        "id": tile.id,
        "source_id": tile.source_id,
        "scene_id": tile.scene.id,
        "status": status_name(tile.status),
        "message": tile.message,
        "previous_id": tile.previous_id if tile.HasField("previous_id") else None,
        "reference_id": tile.reference_id if tile.HasField("reference_id") else None,
        "retry_countdown": tile.retry_countdown,
    }


async def aoi_scenes(call: Call) -> Response:
    """`{"scenes":[{id, source_id, status, message, retry_countdown, date, tiles:[…]}]}`, ordered by id:
    what the page's tables, map colours and dependency graph are drawn from."""
    name = _aoi_name(call)
    scenes = await call.rpc(
        call.gateway.client.catalogue.ListScenes, catalogue_pb2.ListScenesRequest(aoi=name)
    )
    tiles = await call.rpc(
        call.gateway.client.workflow.ListAoiTiles, workflow_pb2.ListAoiTilesRequest(aoi=name)
    )
    by_scene: dict[int, list[dict[str, Any]]] = {}
    for tile in tiles.tiles:
        by_scene.setdefault(tile.scene.id, []).append(_tile(tile))
    out = []
    for scene in scenes.scenes:
        date = scene.data.date.ToJsonString() if scene.data.HasField("date") else None
        out.append({
            "id": scene.id,
            "source_id": scene.source_id,
            "status": status_name(scene.status),
            "message": scene.message,
            "retry_countdown": scene.retry_countdown,
            "date": date,
            "tiles": by_scene.get(scene.id, []),
        })  # fmt: skip
    return _json({"scenes": out})


def _geometry(wkt: str) -> dict[str, Any] | None:
    if not wkt:
        return None
    try:
        shape = wkt_text.from_wkt(wkt)  # not shapely's: a non-ASCII text made it raise UnicodeDecodeError
    except shapely.errors.GEOSException:
        return None  # a record written by hand with a broken footprint: listed, not drawn
    return None if shape.is_empty else shapely.geometry.mapping(shape)


async def aoi_footprints(call: Call) -> Response:
    """A GeoJSON FeatureCollection of the AOI's scene footprints (EPSG:4326), properties `id` and
    `source_id`; the geometry is null for a scene without a record footprint. Footprints never change,
    so the page reads them once and colours them from `/ui/api/aoi/{aoi}/scenes`."""
    name = _aoi_name(call)
    scenes = await call.rpc(
        call.gateway.client.catalogue.ListScenes, catalogue_pb2.ListScenesRequest(aoi=name)
    )

    async def footprint(scene: types_pb2.Scene) -> dict[str, Any]:
        # Records are named after the scene's source id; the scene names the one it was indexed into.
        request = registry_pb2.ListRecordsRequest(name=scene.source_id)
        records = (await call.rpc(call.gateway.client.registry.ListRecords, request)).records
        chosen = [r for r in records if r.id == scene.data.record_id] or list(records[:1])
        return {
            "type": "Feature",
            "id": scene.id,
            "properties": {"id": scene.id, "source_id": scene.source_id},
            "geometry": _geometry(chosen[0].aoi_wkt) if chosen else None,
        }

    features = await _bounded(list(scenes.scenes), footprint)
    return _json({"type": "FeatureCollection", "features": features})


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/ui", {"GET": page}, gateway, public=True),
        GoRoute("/ui/", {"GET": page}, gateway, public=True),
        GoRoute("/ui/api/aois", {"GET": list_aois}, gateway),
        GoRoute("/ui/api/aoi/{aoi}", {"GET": aoi_summary}, gateway),
        GoRoute("/ui/api/aoi/{aoi}/scenes", {"GET": aoi_scenes}, gateway),
        GoRoute("/ui/api/aoi/{aoi}/footprints", {"GET": aoi_footprints}, gateway),
    ]


def static_mount() -> Mount:
    """The page's script, style and vendored libraries (gateway/static, shipped as package data)."""
    return Mount("/ui/static", app=StaticFiles(directory=STATIC), name="ui-static")
