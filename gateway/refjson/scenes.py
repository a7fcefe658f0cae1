"""Scenes collections (spec §3.4): the GeoJSON FeatureCollection that `/catalog/scenes` and
`/catalog/tiles` answer and that clients upload back as the `scenes` / `tiles` form fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import shapely
from google.protobuf import json_format
from shapely import geometry as sgeom

from gateway import inputs
from gateway.errors import GatewayError
from gateway.refjson import fields, gojson
from gateway.refjson.fields import DecodeError, JsonObject
from protos.ingester.v1 import types_pb2
from libs.domain import wkt as wkt_text

# ---------------------------------------------------------------------------------------------------
# Decoding an uploaded collection


def scenes_error(raw: str, reason: str) -> GatewayError:
    """The reference's answer to an undecodable `scenes`/`tiles` upload: `<raw json> <error>`."""
    return GatewayError(400, f"{raw} {reason}")


def decode_scenes(raw: str, field: str = "scenes") -> list[types_pb2.CatalogScene]:
    """Decodes an uploaded collection. Only `features[].properties` are read: the geometry of a feature
    is derived data, the scene's `wkt` is authoritative. Raises GatewayError(400)."""
    try:
        doc = fields.loads(raw)
        collection = fields.obj(doc, "")
        if collection is None:
            raise DecodeError("expected a GeoJSON FeatureCollection, got null")
        scenes = []
        for i, feature in enumerate(fields.array(collection.get("features"), "features")):
            feature_obj = fields.obj(feature, f"features[{i}]")
            props = (
                None
                if feature_obj is None
                else fields.obj(feature_obj.get("properties"), f"features[{i}].properties")
            )
            scenes.append(decode_scene(props, f"features[{i}].properties"))
        return scenes
    except inputs.Refused as exc:
        # Our limits (not the reference's): name the upload too.
        raise scenes_error(raw, f"{field}: {exc}") from None
    except ValueError as exc:  # DecodeError and JSON syntax errors
        raise scenes_error(raw, str(exc)) from None


def _legacy(obj: JsonObject, key: str, legacy_key: str) -> Any:
    # Files saved by older versions of the reference use other key names (spec §3.4 [DOC≠CODE]);
    # the current key wins when both are present.
    return obj.get(key) if obj.has(key) else obj.get(legacy_key)


def decode_scene(props: JsonObject | None, path: str) -> types_pb2.CatalogScene:
    scene = types_pb2.CatalogScene()
    if props is None:
        return scene
    scene.id = fields.integer(props.get("id"), f"{path}.id", bits=64)
    scene.source_id = fields.string(props.get("source_id"), f"{path}.source_id")
    scene.aoi = fields.string(props.get("aoi"), f"{path}.aoi")
    decode_scene_attrs(props.get("data"), f"{path}.data", scene.data)
    scene.tags.update(fields.string_map(props.get("tags"), f"{path}.tags") or {})
    scene.wkt = fields.string(_legacy(props, "wkt", "GeometryWKT"), f"{path}.wkt")
    for i, tile in enumerate(fields.array(props.get("tiles"), f"{path}.tiles")):
        tile_path = f"{path}.tiles[{i}]"
        scene.tiles.append(_decode_tile(fields.obj(tile, tile_path), tile_path))
    return scene


def decode_scene_attrs(value: Any, path: str, target: types_pb2.SceneAttrs) -> None:
    data = fields.obj(value, path)
    if data is None:
        return
    fields.timestamp(data.get("date"), f"{path}.date", target.date)
    tiles = fields.obj(data.get("tiles"), f"{path}.tiles")
    for key, mapping in (tiles.as_dict() if tiles else {}).items():
        decode_tile_attrs_into(mapping, f"{path}.tiles.{key}", target.tiles[key], mapping_only=True)
    target.graph_name = fields.string(data.get("graph_name"), f"{path}.graph_name")
    graph_config = fields.string_map(data.get("graph_config"), f"{path}.graph_config")
    if graph_config is not None:
        target.graph_config.SetInParent()
        target.graph_config.entries.update(graph_config)
    target.record_id = fields.string(data.get("record_id"), f"{path}.record_id")
    target.instances_id.update(fields.string_map(data.get("instances_id"), f"{path}.instances_id") or {})
    fields.struct(data.get("metadata"), f"{path}.metadata", target.metadata)
    legacy_uuid = data.get("uuid")
    # Older files keep the product uuid in `data.uuid`; it now lives in `metadata.uuid`.
    if isinstance(legacy_uuid, str) and legacy_uuid and "uuid" not in target.metadata.fields:
        target.metadata.update({"uuid": fields.clean_text(legacy_uuid)})
    target.is_retriable = fields.boolean(data.get("is_retriable"), f"{path}.is_retriable")
    target.storage_uri = fields.string(data.get("storage_uri"), f"{path}.storage_uri")


def decode_tile_attrs_into(value: Any, path: str, target: Any, mapping_only: bool = False) -> None:
    """Fills a TileAttrs (or, with mapping_only, a TileMapping: swath_id and tile_nr only)."""
    data = fields.obj(value, path)
    if data is None:
        return
    target.swath_id = fields.string(data.get("swath_id"), f"{path}.swath_id")
    target.tile_nr = fields.integer(data.get("tile_nr"), f"{path}.tile_nr")
    if not mapping_only:
        target.graph_name = fields.string(data.get("graph_name"), f"{path}.graph_name")
        target.is_retriable = fields.boolean(data.get("is_retriable"), f"{path}.is_retriable")


def _decode_tile(tile: JsonObject | None, path: str) -> types_pb2.CatalogTile:
    out = types_pb2.CatalogTile()
    if tile is None:
        return out
    out.source_id = fields.string(tile.get("SourceID"), f"{path}.SourceID")
    out.scene_id = fields.string(tile.get("SceneID"), f"{path}.SceneID")
    fields.timestamp(tile.get("Date"), f"{path}.Date", out.date)
    out.id = fields.integer(tile.get("id"), f"{path}.id", bits=64)
    decode_tile_attrs_into(tile.get("data"), f"{path}.data", out.data)
    out.anx_time = fields.integer(_legacy(tile, "anx_time", "AnxTime"), f"{path}.anx_time", bits=64)
    out.wkt = fields.string(_legacy(tile, "wkt", "GeometryWKT"), f"{path}.wkt")
    for key, target in (("previous", out.previous), ("reference", out.reference)):
        ref = fields.obj(tile.get(key), f"{path}.{key}")
        if ref is not None:
            target.source_id = fields.string(ref.get("SourceID"), f"{path}.{key}.SourceID")
            target.scene_id = fields.string(ref.get("SceneID"), f"{path}.{key}.SceneID")
            fields.timestamp(ref.get("Date"), f"{path}.{key}.Date", target.date)
            target.SetInParent()
    return out


# ---------------------------------------------------------------------------------------------------
# Encoding


def _time(message: Any, field: str) -> str:
    return gojson.format_time(getattr(message, field) if message.HasField(field) else None)


def string_map_or_null(message: Any, field: str) -> dict[str, str] | None:
    """A StringMap field: null when unset, the (sorted) map when set, even if empty."""
    if not message.HasField(field):
        return None
    return dict(sorted(getattr(message, field).entries.items()))


def struct_or_null(message: Any, field: str) -> dict[str, Any] | None:
    if not message.HasField(field):
        return None
    sorted_map: dict[str, Any] = gojson.sort_keys(json_format.MessageToDict(getattr(message, field)))
    return sorted_map


def scene_attrs(data: types_pb2.SceneAttrs) -> dict[str, Any]:
    """SceneAttrs in the reference's declaration order (spec §1.6); maps sorted, omitempty honoured."""
    out: dict[str, Any] = {"date": _time(data, "date")}
    if data.tiles:
        out["tiles"] = {
            key: {"swath_id": m.swath_id, "tile_nr": m.tile_nr} for key, m in sorted(data.tiles.items())
        }
    out["graph_name"] = data.graph_name
    out["graph_config"] = string_map_or_null(data, "graph_config")
    out["record_id"] = data.record_id
    if data.instances_id:
        out["instances_id"] = dict(sorted(data.instances_id.items()))
    out["metadata"] = struct_or_null(data, "metadata")
    out["is_retriable"] = data.is_retriable
    out["storage_uri"] = data.storage_uri
    return out


def tile_attrs(data: types_pb2.TileAttrs) -> dict[str, Any]:
    return {
        "swath_id": data.swath_id,
        "tile_nr": data.tile_nr,
        "graph_name": data.graph_name,
        "is_retriable": data.is_retriable,
    }


def _tile_ref(tile: types_pb2.CatalogTile, field: str) -> dict[str, Any] | None:
    if not tile.HasField(field):
        return None
    ref = getattr(tile, field)
    return {"SourceID": ref.source_id, "SceneID": ref.scene_id, "Date": _time(ref, "date")}


def catalog_tile(tile: types_pb2.CatalogTile) -> dict[str, Any]:
    return {
        "SourceID": tile.source_id,
        "SceneID": tile.scene_id,
        "Date": _time(tile, "date"),
        "id": tile.id,
        "data": tile_attrs(tile.data),
        "anx_time": tile.anx_time,
        "wkt": tile.wkt,
        "previous": _tile_ref(tile, "previous"),
        "reference": _tile_ref(tile, "reference"),
    }


def scene_properties(scene: types_pb2.CatalogScene) -> dict[str, Any]:
    """Feature properties: the scene's JSON with every key sorted, nested structs included, because the
    reference round-trips the scene through a generic map (spec §3.4)."""
    props: dict[str, Any] = {
        "id": scene.id,
        "source_id": scene.source_id,
        "aoi": scene.aoi,
        "data": scene_attrs(scene.data),
        # Protobuf maps cannot tell an absent map from an empty one: empty prints as Go's nil map.
        "tags": dict(scene.tags) if scene.tags else None,
        "wkt": scene.wkt,
    }
    if scene.tiles:
        props["tiles"] = [catalog_tile(tile) for tile in scene.tiles]
    sorted_props: dict[str, Any] = gojson.sort_keys(props)
    return sorted_props


def _parse_wkt(wkt: str) -> Any:
    try:
        return wkt_text.from_wkt(wkt) if wkt else None
    except shapely.errors.ShapelyError:
        return None


def scene_geometry(scene: types_pb2.CatalogScene) -> dict[str, Any] | None:
    """The feature geometry: the scene footprint, plus its tile footprints when it has tiles."""
    geom = _parse_wkt(scene.wkt)
    if geom is None:
        return None
    if isinstance(geom, sgeom.MultiPolygon) and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if scene.tiles and isinstance(geom, sgeom.Polygon):
        tile_geoms = (_parse_wkt(tile.wkt) for tile in scene.tiles)
        geom = sgeom.MultiPolygon([geom, *(g for g in tile_geoms if isinstance(g, sgeom.Polygon))])
    return geojson_geometry(geom)


def _position(coord: Iterable[float]) -> list[float]:
    x, y = list(coord)[:2]
    return [float(x), float(y)]


def _rings(polygon: Any) -> list[list[list[float]]]:
    if polygon.is_empty:
        return []
    return [[_position(c) for c in ring.coords] for ring in (polygon.exterior, *polygon.interiors)]


def geojson_geometry(geom: Any) -> dict[str, Any]:
    """GeoJSON of a shapely geometry, 2D, key order `type`, `coordinates` (or `geometries`)."""
    kind = geom.geom_type
    coordinates: Any
    if kind == "GeometryCollection":
        return {"type": kind, "geometries": [geojson_geometry(part) for part in geom.geoms]}
    if kind == "Point":
        coordinates = [] if geom.is_empty else _position(geom.coords[0])
    elif kind in ("LineString", "LinearRing"):
        kind = "LineString"
        coordinates = [_position(c) for c in geom.coords]
    elif kind == "Polygon":
        coordinates = _rings(geom)
    elif kind == "MultiPoint":
        coordinates = [_position(p.coords[0]) for p in geom.geoms]
    elif kind == "MultiLineString":
        coordinates = [[_position(c) for c in line.coords] for line in geom.geoms]
    else:
        coordinates = [_rings(polygon) for polygon in geom.geoms]
    return {"type": kind, "coordinates": coordinates}


def scene_collection(
    scenes: Iterable[types_pb2.CatalogScene], next_page: bool | None = None
) -> dict[str, Any]:
    """The FeatureCollection; `properties.next` only when a page flag is given (scene search)."""
    features = [
        {"type": "Feature", "id": i, "geometry": scene_geometry(scene), "properties": scene_properties(scene)}
        for i, scene in enumerate(scenes)
    ]
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if next_page is not None:
        collection["properties"] = {"next": "true" if next_page else "false"}
    return collection


def encode_scene_collection(scenes: Iterable[types_pb2.CatalogScene], next_page: bool | None = None) -> str:
    """The response body of /catalog/scenes (with `next_page`) and /catalog/tiles (without)."""
    return gojson.encoder_line(scene_collection(scenes, next_page))
