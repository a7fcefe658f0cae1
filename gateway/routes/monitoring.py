"""Workflow monitoring reads (spec §4.3): `/`, `/aoi/…`, `/scene/…`, `/tile/…`."""

from __future__ import annotations

import re

from starlette.responses import Response

from gateway import refjson, responses
from gateway.errors import GatewayError
from gateway.refjson.views import STATUS_BY_NAME
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import catalogue_pb2, types_pb2

_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 1 << 63
_INT32 = 1 << 31


def _path_id(call: Call, name: str) -> int:
    """`{scene}` / `{tile}` as Go's strconv.Atoi reads them; 400 with an empty body otherwise."""
    raw = call.params[name]
    if not _GO_INT.fullmatch(raw) or not -_INT64 <= int(raw) < _INT64:
        raise GatewayError(400)
    return int(raw)


def _paging(call: Call) -> tuple[int, int]:
    """`page` (default 0) and `limit` (default -1, no limit); values that are not integers are ignored."""
    values = {"page": 0, "limit": -1}
    for name in values:
        raw = call.request.query_params.get(name, "")
        if _GO_INT.fullmatch(raw):
            # Clamped to the contract's int32: a limit that large means "no limit" anyway.
            values[name] = max(-_INT32, min(int(raw), _INT32 - 1))
    return values["page"], values["limit"]


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
        wait = min(max(float(raw_wait), 0.0), 60.0)
    except ValueError:
        raise GatewayError(400, f"wait: expected seconds, got {raw_wait!r}") from None
    request = catalogue_pb2.WaitAoiStatusRequest(aoi=call.params["aoi"], known=STATUS_BY_NAME.get(known_name, 0))
    request.wait.FromNanoseconds(int(wait * 1e9))
    answer = await call.rpc(call.gateway.client.catalogue.WaitAoiStatus, request, slow=True)
    return responses.text(refjson.encode_aoi_status(call.params["aoi"], answer.status, answer.changed))


async def aoi_scenes(call: Call) -> Response:
    status_name = call.params.get("status")
    status = types_pb2.STATUS_UNSPECIFIED
    if status_name is not None:
        # The reference compares the status verbatim with the stored uppercase names: anything else
        # (including lowercase) matches no scene.
        if status_name not in STATUS_BY_NAME:
            return responses.text(refjson.encode_scenes([]))
        status = STATUS_BY_NAME[status_name]
    page, limit = _paging(call)
    request = catalogue_pb2.ListScenesRequest(aoi=call.params["aoi"], status=status, page=page, limit=limit)
    answer = await call.rpc(call.gateway.client.catalogue.ListScenes, request)
    return responses.text(refjson.encode_scenes(answer.scenes))


async def scene(call: Call) -> Response:
    request = catalogue_pb2.GetSceneRequest(id=_path_id(call, "scene"))
    answer = await call.rpc(call.gateway.client.catalogue.GetScene, request, not_found_body="")
    return responses.text(refjson.encode_scene(answer))


async def scene_tiles(call: Call) -> Response:
    request = catalogue_pb2.ListSceneTilesRequest(scene_id=_path_id(call, "scene"))
    answer = await call.rpc(call.gateway.client.catalogue.ListSceneTiles, request)
    return responses.text(refjson.encode_tiles(answer.tiles))


async def tile(call: Call) -> Response:
    request = catalogue_pb2.GetTileRequest(id=_path_id(call, "tile"))
    answer = await call.rpc(call.gateway.client.catalogue.GetTile, request, not_found_body="")
    return responses.text(refjson.encode_tile(answer))


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/", {"GET": health}, gateway, public=True),
        GoRoute("/aoi/", {"GET": all_aois}, gateway),
        GoRoute("/aoi/{aoi}", {"GET": aoi}, gateway),
        GoRoute("/aoi/{aoi}/status", {"GET": aoi_status}, gateway),
        GoRoute("/aoi/{aoi}/scenes", {"GET": aoi_scenes}, gateway),
        GoRoute("/aoi/{aoi}/scenes/{status}", {"GET": aoi_scenes}, gateway),
        GoRoute("/scene/{scene}", {"GET": scene}, gateway),
        GoRoute("/scene/{scene}/tiles", {"GET": scene_tiles}, gateway),
        GoRoute("/tile/{tile}", {"GET": tile}, gateway),
    ]
