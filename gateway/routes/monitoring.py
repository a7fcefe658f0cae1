"""Workflow monitoring reads (spec §4.3, §5.3, §5.10): `/`, `/aoi/…`, `/scene/…`, `/tile/…`."""

from __future__ import annotations

import math

import grpc
from starlette.responses import Response

from gateway import refjson, responses
from gateway.errors import GatewayError
from gateway.refjson.views import STATUS_BY_NAME
from gateway.routes.params import list_status, paging, path_id
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import catalogue_pb2, types_pb2, workflow_pb2

# The reference answers an empty 404 for an unknown scene or tile.
_EMPTY_NOT_FOUND = (grpc.StatusCode.NOT_FOUND,)
MAX_WAIT_SECONDS = 60.0


async def health(call: Call) -> Response:
    return responses.text("ingester ok")


async def list_aois(call: Call, pattern: str = "") -> Response:
    stub = call.gateway.client.catalogue
    answer = await call.rpc(stub.ListAois, catalogue_pb2.ListAoisRequest(pattern=pattern))
    return responses.text(refjson.encode_aois(answer.aois))


async def all_aois(call: Call) -> Response:
    return await list_aois(call)


async def aoi(call: Call) -> Response:
    name = call.params["aoi"]
    if "*" in name or "?" in name:
        return await list_aois(call, name)
    stub = call.gateway.client.catalogue
    report = await call.rpc(stub.GetAoiReport, catalogue_pb2.GetAoiReportRequest(aoi=name))
    return responses.text(refjson.aoi_report(report))


async def aoi_status(call: Call) -> Response:
    """Our extension: `GET /aoi/{aoi}/status?known=PENDING&wait=30` long-polls the AOI status and answers
    `{"ID","status","changed"}` as soon as it differs from `known` (at once without `known`)."""
    known_name = call.request.query_params.get("known", "")
    if known_name and known_name not in STATUS_BY_NAME:
        raise GatewayError(400, f"known: unknown status {known_name!r} (NEW, PENDING, DONE, RETRY or FAILED)")
    raw_wait = call.request.query_params.get("wait", "0")
    try:
        wait = float(raw_wait)
    except ValueError:
        wait = math.nan
    if not math.isfinite(wait) or wait < 0:
        raise GatewayError(400, f"wait: expected seconds (a number >= 0), got {raw_wait!r}")
    # Longer waits are shortened: the answer says whether the status changed.
    wait = min(wait, MAX_WAIT_SECONDS)
    request = catalogue_pb2.WaitAoiStatusRequest(
        aoi=call.params["aoi"], known=STATUS_BY_NAME.get(known_name, types_pb2.STATUS_UNSPECIFIED)
    )
    request.wait.FromNanoseconds(int(wait * 1e9))
    answer = await call.rpc(call.gateway.client.catalogue.WaitAoiStatus, request, slow=True)
    return responses.text(refjson.encode_aoi_status(call.params["aoi"], answer.status, answer.changed))


async def aoi_scenes(call: Call) -> Response:
    status = list_status(call)
    if status is None:
        return responses.text(refjson.encode_scenes([]))
    page, limit = paging(call)
    request = catalogue_pb2.ListScenesRequest(aoi=call.params["aoi"], status=status, page=page, limit=limit)
    answer = await call.rpc(call.gateway.client.catalogue.ListScenes, request)
    return responses.text(refjson.encode_scenes(answer.scenes))


async def scene(call: Call) -> Response:
    request = catalogue_pb2.GetSceneRequest(id=path_id(call, "scene"))
    answer = await call.rpc(call.gateway.client.catalogue.GetScene, request, empty=_EMPTY_NOT_FOUND)
    return responses.text(refjson.encode_scene(answer))


async def scene_tiles(call: Call) -> Response:
    request = catalogue_pb2.ListSceneTilesRequest(scene_id=path_id(call, "scene"))
    answer = await call.rpc(call.gateway.client.catalogue.ListSceneTiles, request)
    return responses.text(refjson.encode_tiles(answer.tiles))


async def tile(call: Call) -> Response:
    request = catalogue_pb2.GetTileRequest(id=path_id(call, "tile"))
    answer = await call.rpc(call.gateway.client.catalogue.GetTile, request, empty=_EMPTY_NOT_FOUND)
    return responses.text(refjson.encode_tile(answer))


async def aoi_tiles(call: Call) -> Response:
    status = list_status(call)
    if status is None:
        return responses.text(refjson.encode_tiles([]))
    page, limit = paging(call)
    request = workflow_pb2.ListAoiTilesRequest(aoi=call.params["aoi"], status=status, page=page, limit=limit)
    answer = await call.rpc(call.gateway.client.workflow.ListAoiTiles, request)
    return responses.text(refjson.encode_tiles(answer.tiles))


async def root_tiles(call: Call) -> Response:
    aoi = call.params["aoi"]
    request = workflow_pb2.ListGraphTilesRequest(aoi=aoi)
    answer = await call.rpc(call.gateway.client.workflow.ListRootTiles, request)
    return responses.text(refjson.encode_graph_tiles(answer.tiles, aoi))


async def leaf_tiles(call: Call) -> Response:
    aoi = call.params["aoi"]
    request = workflow_pb2.ListGraphTilesRequest(aoi=aoi)
    answer = await call.rpc(call.gateway.client.workflow.ListLeafTiles, request)
    return responses.text(refjson.encode_graph_tiles(answer.tiles, aoi))


async def aoi_dot(call: Call) -> Response:
    request = workflow_pb2.GetAoiDotRequest(aoi=call.params["aoi"])
    answer = await call.rpc(call.gateway.client.workflow.GetAoiDot, request)
    return responses.text(answer.dot)


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/", {"GET": health}, gateway, public=True),
        GoRoute("/aoi/", {"GET": all_aois}, gateway),
        GoRoute("/aoi/{aoi}", {"GET": aoi}, gateway),
        GoRoute("/aoi/{aoi}/status", {"GET": aoi_status}, gateway),
        GoRoute("/aoi/{aoi}/scenes", {"GET": aoi_scenes}, gateway),
        GoRoute("/aoi/{aoi}/scenes/{status}", {"GET": aoi_scenes}, gateway),
        GoRoute("/aoi/{aoi}/tiles/{status}", {"GET": aoi_tiles}, gateway),
        GoRoute("/aoi/{aoi}/roottiles", {"GET": root_tiles}, gateway),
        GoRoute("/aoi/{aoi}/leaftiles", {"GET": leaf_tiles}, gateway),
        GoRoute("/aoi/{aoi}/dot", {"GET": aoi_dot}, gateway),
        GoRoute("/scene/{scene}", {"GET": scene}, gateway),
        GoRoute("/scene/{scene}/tiles", {"GET": scene_tiles}, gateway),
        GoRoute("/tile/{tile}", {"GET": tile}, gateway),
    ]
