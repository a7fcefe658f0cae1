"""The strict request bodies of the workflow control endpoints (spec §1.6, §1.7, §1.10, §4.3).

`POST /aoi/{aoi}/scene` (SceneToIngest), `PUT /scene/{id}/data` (SceneAttrs) and `PUT /tile/{id}/data`
(TileAttrs) are decoded as the reference's Go decoder does with `DisallowUnknownFields`: keys match
struct fields case-insensitively, a key matching no field, at any depth of a struct, is an error, and
`null` is the zero value. Map keys (`tiles`, `graph_config`, `instances_id`, `metadata`) are free. Like
`json.Decoder.Decode`, only the first JSON value of the body is read.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from gateway import inputs
from gateway.errors import GatewayError
from gateway.refjson import fields
from gateway.refjson.fields import DecodeError, JsonObject
from gateway.refjson.scenes import decode_scene_attrs, decode_tile_attrs_into
from protos.ingester.v1 import types_pb2


@dataclasses.dataclass(frozen=True)
class _MapOf:
    """A JSON object with free keys whose values are `schema` structs."""

    schema: dict[str, Any]


# Struct fields (lower-cased) -> the schema of their value: None for a value without struct fields.
_TILE_ATTRS: dict[str, Any] = dict.fromkeys(("swath_id", "tile_nr", "graph_name", "is_retriable"))
_TILE_MAPPING: dict[str, Any] = dict.fromkeys(("swath_id", "tile_nr"))
_SCENE_ATTRS: dict[str, Any] = {
    **dict.fromkeys(
        ("date", "graph_name", "graph_config", "record_id", "instances_id", "metadata", "is_retriable")
    ),
    "storage_uri": None,
    "tiles": _MapOf(_TILE_MAPPING),
}
_TILE_TO_INGEST: dict[str, Any] = {
    **dict.fromkeys(("previous_tile_id", "previous_scene_id", "reference_tile_id", "reference_scene_id")),
    "data": _TILE_ATTRS,
}
_SCENE_TO_INGEST: dict[str, Any] = {
    **dict.fromkeys(("id", "source_id", "aoi", "retry_count")),
    "data": _SCENE_ATTRS,
    "tiles": _MapOf(_TILE_TO_INGEST),
}


@dataclasses.dataclass
class SceneToIngest:
    scene: types_pb2.CatalogScene
    retry_count: int


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


_DECODER = json.JSONDecoder(object_pairs_hook=JsonObject, parse_constant=_reject_constant)


def first_value(body: bytes) -> Any:
    """The first JSON value of a body, as json.Decoder.Decode reads it (what follows is not read).
    Raises DecodeError for an empty body or invalid JSON."""
    # Go replaces invalid UTF-8 in strings with U+FFFD; a leading BOM is skipped as everywhere (G15).
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff").lstrip(" \t\r\n")
    if not text:
        raise DecodeError("empty body")
    try:
        value, _ = _DECODER.raw_decode(text)
    except RecursionError:
        raise GatewayError(400, str(inputs.depth_error())) from None
    except ValueError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    # Unlike the shape errors (an empty 400, as the reference), these name the field: the reference
    # has no such limits, so a client cannot guess them.
    try:
        inputs.check_document(value)
    except inputs.Refused as exc:
        raise GatewayError(400, str(exc)) from None
    return value


def _check_keys(value: Any, schema: Any, path: str) -> None:
    """Raises DecodeError for a key that matches no struct field; values of the wrong kind are left to
    the typed readers."""
    if schema is None or not isinstance(value, JsonObject):
        return
    if isinstance(schema, _MapOf):
        for key, item in value.pairs:
            _check_keys(item, schema.schema, f"{path}.{key}")
        return
    for key, item in value.pairs:
        lowered = key.lower()
        if lowered not in schema:
            raise DecodeError(
                f"field '{path}.{key}': unknown field" if path else f"field '{key}': unknown field"
            )
        _check_keys(item, schema[lowered], f"{path}.{key}" if path else key)


def _top_object(value: Any, schema: dict[str, Any]) -> JsonObject:
    """The document as an object (null = the zero value) after the unknown-key check."""
    if value is None:
        return JsonObject([])
    if not isinstance(value, JsonObject):
        raise DecodeError(f"expected an object, got {fields.kind(value)}")
    _check_keys(value, schema, "")
    return value


def decode_scene_attrs_body(body: bytes) -> types_pb2.SceneAttrs:
    """The body of `PUT /scene/{id}/data`."""
    doc = _top_object(first_value(body), _SCENE_ATTRS)
    data = types_pb2.SceneAttrs()
    decode_scene_attrs(doc, "data", data)
    return data


def decode_tile_attrs_body(body: bytes) -> types_pb2.TileAttrs:
    """The body of `PUT /tile/{id}/data`."""
    doc = _top_object(first_value(body), _TILE_ATTRS)
    data = types_pb2.TileAttrs()
    decode_tile_attrs_into(doc, "data", data)
    return data


def decode_scene_to_ingest(body: bytes) -> SceneToIngest:
    """The body of `POST /aoi/{aoi}/scene` as the catalogue scene the Workflow service ingests: each
    entry of `tiles` becomes a tile of that source id, and its `previous_*` / `reference_*` source ids a
    previous / reference link (set when the tile id is given; the catalogue chains a tile only when
    both are, as the reference)."""
    doc = _top_object(first_value(body), _SCENE_TO_INGEST)
    scene = types_pb2.CatalogScene(
        id=fields.integer(doc.get("id"), "id", bits=64),
        source_id=fields.string(doc.get("source_id"), "source_id"),
        aoi=fields.string(doc.get("aoi"), "aoi"),
    )
    scene.data.SetInParent()
    decode_scene_attrs(doc.get("data"), "data", scene.data)
    tiles = fields.obj(doc.get("tiles"), "tiles")
    for source_id, value in (tiles.as_dict() if tiles else {}).items():
        scene.tiles.append(_tile(scene, source_id, fields.obj(value, f"tiles.{source_id}")))
    retry_count = fields.integer(doc.get("retry_count"), "retry_count")
    return SceneToIngest(scene, retry_count)


def _tile(scene: types_pb2.CatalogScene, source_id: str, value: JsonObject | None) -> types_pb2.CatalogTile:
    path = f"tiles.{source_id}"
    tile = types_pb2.CatalogTile(source_id=source_id, scene_id=scene.source_id)
    if scene.data.HasField("date"):
        tile.date.CopyFrom(scene.data.date)
    tile.data.SetInParent()
    if value is None:
        return tile
    decode_tile_attrs_into(value.get("data"), f"{path}.data", tile.data)
    for link, target in (("previous", tile.previous), ("reference", tile.reference)):
        tile_id = fields.string(value.get(f"{link}_tile_id"), f"{path}.{link}_tile_id")
        scene_id = fields.string(value.get(f"{link}_scene_id"), f"{path}.{link}_scene_id")
        if tile_id:
            target.source_id = tile_id
            target.scene_id = scene_id
    return tile
