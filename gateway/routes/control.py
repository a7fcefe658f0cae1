"""Workflow control (spec §4.3, §5.5–§5.9): status changes of scenes and tiles, their `data`, AOI
creation, deletion and retry, single-scene ingestion. One Workflow RPC each.

Status changes answer as the reference: `200` empty when the change was made, `403` empty when the
current status refuses it. Deliberate differences (docs/compatibility.md G30–G38): an unknown id is
`404` empty (the reference: 403), a change the workflow forbids is `409` with its text (the reference:
500), an invalid forced status is `400` (the reference: 500).
"""

from __future__ import annotations

import grpc
from starlette.responses import Response

from gateway import forms, refjson, responses
from gateway.errors import GatewayError
from gateway.refjson.fields import DecodeError
from gateway.routes.params import forced_status, path_id
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import types_pb2, workflow_pb2

_EMPTY_NOT_FOUND = (grpc.StatusCode.NOT_FOUND,)
_EMPTY_CONFLICT = (grpc.StatusCode.ALREADY_EXISTS,)


async def _body(call: Call) -> bytes:
    return await forms.read_body(call.request, call.settings.max_upload_bytes)


# --------------------------------------------------------------------------------------------------
# Status changes


async def _update_status(call: Call, kind: str, status: types_pb2.Status, force: bool) -> Response:
    # The force endpoints check the status name before the id (as the reference): callers pass it in.
    request = workflow_pb2.UpdateStatusRequest(id=path_id(call, kind), status=status, force=force)
    stub = call.gateway.client.workflow
    method = stub.UpdateSceneStatus if kind == "scene" else stub.UpdateTileStatus
    answer = await call.rpc(method, request, empty=_EMPTY_NOT_FOUND)
    return responses.empty(200 if answer.done else 403)


async def retry_scene(call: Call) -> Response:
    return await _update_status(call, "scene", types_pb2.STATUS_PENDING, force=False)


async def fail_scene(call: Call) -> Response:
    return await _update_status(call, "scene", types_pb2.STATUS_FAILED, force=False)


async def force_scene(call: Call) -> Response:
    return await _update_status(call, "scene", forced_status(call), force=True)


async def retry_tile(call: Call) -> Response:
    return await _update_status(call, "tile", types_pb2.STATUS_PENDING, force=False)


async def fail_tile(call: Call) -> Response:
    return await _update_status(call, "tile", types_pb2.STATUS_FAILED, force=False)


async def force_tile(call: Call) -> Response:
    return await _update_status(call, "tile", forced_status(call), force=True)


# --------------------------------------------------------------------------------------------------
# Data


async def scene_data(call: Call) -> Response:
    scene_id = path_id(call, "scene")
    try:
        data = refjson.decode_scene_attrs_body(await _body(call))
    except DecodeError:
        # The reference answers an undecodable or non-strict body with an empty 400.
        raise GatewayError(400) from None
    request = workflow_pb2.UpdateSceneDataRequest(id=scene_id, data=data)
    await call.rpc(call.gateway.client.workflow.UpdateSceneData, request, empty=_EMPTY_NOT_FOUND)
    return responses.empty(204)


async def tile_data(call: Call) -> Response:
    tile_id = path_id(call, "tile")
    try:
        data = refjson.decode_tile_attrs_body(await _body(call))
    except DecodeError:
        raise GatewayError(400) from None
    request = workflow_pb2.UpdateTileDataRequest(id=tile_id, data=data)
    await call.rpc(call.gateway.client.workflow.UpdateTileData, request, empty=_EMPTY_NOT_FOUND)
    return responses.empty(204)


# --------------------------------------------------------------------------------------------------
# AOIs


async def create_aoi(call: Call) -> Response:
    request = workflow_pb2.CreateAoiRequest(aoi=call.params["aoi"])
    await call.rpc(call.gateway.client.workflow.CreateAoi, request, empty=_EMPTY_CONFLICT)
    return responses.empty(204)


async def delete_aoi(call: Call) -> Response:
    request = workflow_pb2.DeleteAoiRequest(aoi=call.params["aoi"])
    # Deleting cancels the AOI's tasks: may take longer than a read.
    await call.rpc(call.gateway.client.workflow.DeleteAoi, request, slow=True)
    return responses.empty(204)


async def ingest_scene(call: Call) -> Response:
    try:
        decoded = refjson.decode_scene_to_ingest(await _body(call))
    except DecodeError:
        raise GatewayError(400) from None
    request = workflow_pb2.IngestSceneRequest(
        aoi=call.params["aoi"], scene=decoded.scene, retry_count=decoded.retry_count
    )
    # An existing scene: the reference answers 200 {"id":0} (spec §4.3 [BUG?]); here 409 empty, the
    # answer it coded for that case.
    answer = await call.rpc(
        call.gateway.client.workflow.IngestScene, request, slow=True, empty=_EMPTY_CONFLICT
    )
    return responses.text(refjson.encode_id(answer.id))


async def retry_aoi(call: Call) -> Response:
    # Forced only when the segment is exactly `force`; `/retry/anything` is a plain retry.
    force = call.params.get("force") == "force"
    request = workflow_pb2.RetryAoiRequest(aoi=call.params["aoi"], force=force)
    answer = await call.rpc(call.gateway.client.workflow.RetryAoi, request, slow=True)
    if answer.errors:
        # The reference: 500 with the merged texts; the retries that succeeded are kept either way.
        raise GatewayError(409, "\n ".join(answer.errors))
    if answer.scenes == 0 and answer.tiles == 0:
        return responses.empty(204)
    return responses.text(refjson.encode_retry_counts(answer.scenes, answer.tiles))


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/aoi/{aoi}", {"POST": create_aoi, "DELETE": delete_aoi}, gateway),
        GoRoute("/aoi/{aoi}/scene", {"POST": ingest_scene}, gateway),
        GoRoute("/aoi/{aoi}/retry", {"PUT": retry_aoi}, gateway),
        GoRoute("/aoi/{aoi}/retry/{force}", {"PUT": retry_aoi}, gateway),
        GoRoute("/scene/{scene}/retry", {"PUT": retry_scene}, gateway),
        GoRoute("/scene/{scene}/fail", {"PUT": fail_scene}, gateway),
        GoRoute("/scene/{scene}/force/{status}", {"PUT": force_scene}, gateway),
        GoRoute("/scene/{scene}/data", {"PUT": scene_data}, gateway),
        GoRoute("/tile/{tile}/retry", {"PUT": retry_tile}, gateway),
        GoRoute("/tile/{tile}/fail", {"PUT": fail_tile}, gateway),
        GoRoute("/tile/{tile}/force/{status}", {"PUT": force_tile}, gateway),
        GoRoute("/tile/{tile}/data", {"PUT": tile_data}, gateway),
    ]
