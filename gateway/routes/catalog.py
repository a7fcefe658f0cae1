"""`/catalog/scenes`, `/catalog/tiles`, `/catalog/aoi` (spec §4.2): multipart forms in, the reference's
scenes collections or ingestion text out, one catalogue RPC each."""

from __future__ import annotations

import re
import time

from starlette.responses import Response

from gateway import forms, refjson, responses
from gateway.errors import GatewayError
from gateway.refjson import gojson
from gateway.refjson.payload import missing_area_error
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import catalogue_pb2, types_pb2

_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT32 = 1 << 31


def _query_int(call: Call, name: str) -> int | None:
    """A URL query integer as Go's strconv.Atoi reads it; None when absent or not an integer."""
    raw = call.request.query_params.get(name)
    if raw is None or not _GO_INT.fullmatch(raw):
        return None
    value = int(raw)
    if not -_INT32 <= value < _INT32:
        raise GatewayError(400, f"query parameter '{name}': {raw} is out of range")
    return value


async def _load_area(call: Call) -> tuple[types_pb2.Area, forms.Form]:
    form = await forms.read_form(call.request, call.settings.max_upload_bytes)
    raw = form.field("area")
    if raw is None:
        if form.multipart_error and form.multipart_error.startswith("invalid multipart"):
            raise GatewayError(400, f"loadArea: {form.multipart_error}")
        raise missing_area_error()
    area = refjson.decode_area(raw)
    # The URL query overrides the payload's paging (not urlencoded or multipart fields).
    for name in ("page", "limit"):
        value = _query_int(call, name)
        if value is not None:
            setattr(area, name, value)
    return area, form


def _load_scenes(form: forms.Form, name: str) -> list[types_pb2.CatalogScene] | None:
    """An uploaded collection; None when the field is missing or empty (the reference's empty upload
    quirk, spec §4.2 [BUG?], is treated as missing)."""
    raw = form.field(name)
    if raw is None or raw == "":
        return None
    return refjson.decode_scenes(raw, name)


async def search_scenes(call: Call) -> Response:
    area, _ = await _load_area(call)
    stub = call.gateway.client.catalogue
    answer = await call.rpc(stub.SearchScenes, catalogue_pb2.SearchScenesRequest(area=area), slow=True)
    return responses.text(refjson.encode_scene_collection(answer.scenes, answer.next))


async def list_tiles(call: Call) -> Response:
    area, form = await _load_area(call)
    scenes = _load_scenes(form, "scenes")
    if scenes is None:
        raise GatewayError(400, "missing required field: 'scenes' (application/json)")
    stub = call.gateway.client.catalogue
    answer = await call.rpc(
        stub.ListTiles, catalogue_pb2.ListTilesRequest(area=area, scenes=scenes), slow=True
    )
    # A collection built from an upload has no `properties` (no `next`), as the reference's.
    return responses.text(refjson.encode_scene_collection(answer.scenes))


async def ingest_area(call: Call) -> Response:
    area, form = await _load_area(call)
    request = catalogue_pb2.IngestAreaRequest(area=area)
    # `tiles` is authoritative when given; else `scenes` are tiled; else the catalogue searches.
    tiles = _load_scenes(form, "tiles")
    if tiles is not None:
        request.tiles.SetInParent()
        request.tiles.scenes.extend(tiles)
    else:
        scenes = _load_scenes(form, "scenes")
        if scenes is not None:
            request.scenes.SetInParent()
            request.scenes.scenes.extend(scenes)
    # The reference measures from after the input was read.
    started = time.perf_counter_ns()
    answer = await call.rpc(call.gateway.client.catalogue.IngestArea, request, slow=True)
    elapsed = gojson.format_duration(time.perf_counter_ns() - started)
    return responses.text(
        f"Ingestion of {answer.scene_count} scenes and {answer.tile_count} tiles in progress ({elapsed})\n"
    )


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/catalog/scenes", {"GET": search_scenes, "POST": search_scenes}, gateway),
        GoRoute("/catalog/tiles", {"GET": list_tiles, "POST": list_tiles}, gateway),
        GoRoute("/catalog/aoi", {"POST": ingest_area}, gateway),
    ]
