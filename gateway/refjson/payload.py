"""The ingestion payload (reference AreaToIngest, spec §2): one JSON document that is both a GeoJSON object
(the area's geometry) and the ingestion parameters.
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely import geometry as sgeom

from gateway import inputs
from gateway.errors import GatewayError
from gateway.refjson import fields, gojson
from gateway.refjson.fields import DecodeError, JsonObject
from protos.ingester.v1 import types_pb2

_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def area_error(reason: str, raw: str) -> GatewayError:
    """The reference's answer to an undecodable payload: the error, then the payload as received."""
    return GatewayError(400, f"loadArea: {reason}\nJSON:\n{raw}")


def missing_area_error() -> GatewayError:
    return GatewayError(400, "loadArea: missing required field: 'area' (application/json)")


def decode_area(raw: str) -> types_pb2.Area:
    """Decodes the `area` form field. Raises GatewayError(400) with the reference's text."""
    if raw == "":
        raise missing_area_error()
    try:
        doc = fields.loads(raw)
    except ValueError as exc:
        raise area_error(str(exc), raw) from None
    try:
        return _area(doc)
    except (DecodeError, inputs.Refused) as exc:
        raise area_error(str(exc), raw) from None


def _area(doc: Any) -> types_pb2.Area:
    if not isinstance(doc, JsonObject):
        raise DecodeError(
            "the payload must be a JSON object (a GeoJSON Feature, FeatureCollection or geometry), "
            f"got {fields.kind(doc)}"
        )
    if doc.has("aoi"):
        # The reference decodes this key over the parsed geometry and then crashes (spec §2.2 [BUG?]).
        raise DecodeError(
            "field 'aoi' is not supported: the area is the GeoJSON geometry of the payload and its "
            "identifier is 'name' (legacy payloads must rename 'aoi' to 'name' and add \"type\":\"Feature\")"
        )
    area = types_pb2.Area(geometry_wkt=geometry_wkt(doc))
    area.name = inputs.name(fields.string(doc.get("name"), "name"), "name")
    fields.timestamp(doc.get("start_time"), "start_time", area.start_time)
    fields.timestamp(doc.get("end_time"), "end_time", area.end_time)
    scene_type = fields.obj(doc.get("scene_type"), "scene_type")
    if scene_type is not None:
        area.scene_type.constellation = fields.string(
            scene_type.get("constellation"), "scene_type.constellation"
        )
        parameters = fields.string_map(scene_type.get("parameters"), "scene_type.parameters") or {}
        # The contract (types.proto) carries parameter names lower-cased: catalogues match them so.
        area.scene_type.parameters.update({key.lower(): value for key, value in parameters.items()})
    for graph in ("scene_graph_name", "tile_graph_name"):
        setattr(area, graph, inputs.name(fields.string(doc.get(graph), graph), graph))
    graph_config = fields.string_map(doc.get("graph_config"), "graph_config")
    if graph_config is not None:
        # Set even when empty: `{}` and null are printed differently downstream.
        area.graph_config.SetInParent()
        area.graph_config.entries.update(graph_config)
    layers = fields.obj(doc.get("layers"), "layers")
    if layers is not None:
        for name, value in layers.as_dict().items():
            layer = fields.obj(value, f"layers.{name}")
            area.layers[name].SetInParent()
            if layer is None:
                continue
            area.layers[name].variable = fields.string(layer.get("variable"), f"layers.{name}.variable")
            area.layers[name].instance = fields.string(layer.get("instance"), f"layers.{name}.instance")
            area.layers[name].instance_id = fields.string(
                layer.get("instance_id"), f"layers.{name}.instance_id"
            )
    area.record_tags.update(fields.string_map(doc.get("record_tags"), "record_tags") or {})
    urls = fields.array(doc.get("annotations_urls"), "annotations_urls")
    area.annotations_urls.extend(fields.string(url, f"annotations_urls[{i}]") for i, url in enumerate(urls))
    area.is_retriable = fields.boolean(doc.get("is_retriable"), "is_retriable")
    area.retry_count = fields.integer(doc.get("retry_count"), "retry_count")
    area.page = fields.integer(doc.get("page"), "page")
    area.limit = fields.integer(doc.get("limit"), "limit")
    area.storage_uri = fields.string(doc.get("storage_uri"), "storage_uri")
    return area


def geometry_wkt(doc: JsonObject) -> str:
    """The payload's geometry as WKT at full precision (2D, lon/lat)."""
    geom = shapely.force_2d(_geojson(doc))
    return str(shapely.to_wkt(geom, rounding_precision=-1))


def _geojson(doc: JsonObject) -> Any:
    kind = doc.get("type")
    if kind is None:
        raise DecodeError("missing geojson field 'type'")
    if kind == "Feature":
        geometry = fields.obj(doc.get("geometry"), "geometry")
        if geometry is None:
            raise DecodeError("the Feature has no geometry")
        return _geometry(geometry, "geometry")
    if kind == "FeatureCollection":
        polygons: list[Any] = []
        for i, feature in enumerate(fields.array(doc.get("features"), "features")):
            feature_obj = fields.obj(feature, f"features[{i}]")
            geometry = (
                None
                if feature_obj is None
                else fields.obj(feature_obj.get("geometry"), f"features[{i}].geometry")
            )
            if geometry is not None:
                _collect_polygons(_geometry(geometry, f"features[{i}].geometry"), polygons)
        return sgeom.MultiPolygon(polygons)
    if isinstance(kind, str) and kind in _GEOMETRY_TYPES:
        return _geometry(doc, "")
    raise DecodeError(f"invalid geojson: unknown type {gojson.dumps(fields.plain(kind))}")


def _collect_polygons(geom: Any, out: list[Any]) -> None:
    """FeatureCollection merge rule: polygons are kept, anything that is not areal is dropped."""
    if isinstance(geom, sgeom.Polygon):
        if not geom.is_empty:
            out.append(geom)
    elif isinstance(geom, sgeom.MultiPolygon | sgeom.GeometryCollection):
        for part in geom.geoms:
            _collect_polygons(part, out)


def _geometry(doc: JsonObject, path: str) -> Any:
    prefix = f"{path}." if path else ""
    kind = doc.get("type")
    # Not a string (e.g. ["MultiPolygon"]): unhashable, cannot be looked up.
    if not isinstance(kind, str) or kind not in _GEOMETRY_TYPES:
        shown = "missing" if kind is None else gojson.dumps(fields.plain(kind))
        raise DecodeError(f"field '{prefix}type': invalid geojson geometry type ({shown})")
    if kind == "GeometryCollection":
        members = fields.array(doc.get("geometries"), f"{prefix}geometries")
        parts = []
        for i, member in enumerate(members):
            member_obj = fields.obj(member, f"{prefix}geometries[{i}]")
            if member_obj is not None:
                parts.append(_geometry(member_obj, f"{prefix}geometries[{i}]"))
        return sgeom.GeometryCollection(parts)
    coordinates = fields.plain(doc.get("coordinates"))
    if not _numbers_only(coordinates):
        raise DecodeError(f"field '{prefix}coordinates': expected nested arrays of numbers")
    try:
        return sgeom.shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise DecodeError(f"field '{prefix}coordinates': invalid {kind}: {exc}") from None


def _numbers_only(value: Any) -> bool:
    if isinstance(value, list):
        return all(_numbers_only(item) for item in value)
    return isinstance(value, int | float) and not isinstance(value, bool)
