"""Domain dataclasses <-> protobuf messages, for servicers, worker clients and their tests.

Timestamps are tz-aware UTC datetimes on the domain side; an unset Timestamp is the zero time, and the
zero time travels as an unset Timestamp (never as epoch 0). Absent maps that the reference prints as
`null` (graph_config, metadata) travel as unset messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from protos.ingester.v1 import types_pb2
from libs.domain import models

_STATUS_TO_PROTO = {
    models.Status.NEW: types_pb2.STATUS_NEW,
    models.Status.PENDING: types_pb2.STATUS_PENDING,
    models.Status.DONE: types_pb2.STATUS_DONE,
    models.Status.RETRY: types_pb2.STATUS_RETRY,
    models.Status.FAILED: types_pb2.STATUS_FAILED,
}
_STATUS_FROM_PROTO = {v: k for k, v in _STATUS_TO_PROTO.items()}


def status_to_proto(status: models.Status) -> types_pb2.Status:
    return _STATUS_TO_PROTO[status]


def status_from_proto(value: types_pb2.Status) -> models.Status | None:
    return _STATUS_FROM_PROTO.get(value)


def time_to_proto(value: dt.datetime, parent: Any, field: str) -> None:
    """Sets `parent.<field>`, or clears it for the zero time. Takes the parent, not the Timestamp:
    touching a sub-message (even `.Clear()` on it) marks it present, which prints as epoch 0."""
    if value == models.ZERO_TIME:
        parent.ClearField(field)
        return
    timestamp: timestamp_pb2.Timestamp = getattr(parent, field)
    timestamp.FromDatetime(value.astimezone(dt.UTC))


def time_from_proto(msg: Any, field: str) -> dt.datetime:
    if not msg.HasField(field):
        return models.ZERO_TIME
    return getattr(msg, field).ToDatetime(tzinfo=dt.UTC)


def scene_attrs_to_proto(attrs: models.SceneAttrs, out: types_pb2.SceneAttrs) -> None:
    time_to_proto(attrs.date, out, "date")
    for key, mapping in attrs.tiles.items():
        out.tiles[key].swath_id = mapping.swath_id
        out.tiles[key].tile_nr = mapping.tile_nr
    out.graph_name = attrs.graph_name
    if attrs.graph_config is not None:
        out.graph_config.SetInParent()
        out.graph_config.entries.update(attrs.graph_config)
    out.record_id = attrs.record_id
    out.instances_id.update(attrs.instances_id)
    if attrs.metadata is not None:
        out.metadata.SetInParent()
        out.metadata.update(attrs.metadata)
    out.is_retriable = attrs.is_retriable
    out.storage_uri = attrs.storage_uri


def scene_attrs_from_proto(msg: types_pb2.SceneAttrs) -> models.SceneAttrs:
    return models.SceneAttrs(
        date=time_from_proto(msg, "date"),
        tiles={k: models.TileMapping(v.swath_id, v.tile_nr) for k, v in msg.tiles.items()},
        graph_name=msg.graph_name,
        graph_config=dict(msg.graph_config.entries) if msg.HasField("graph_config") else None,
        record_id=msg.record_id,
        instances_id=dict(msg.instances_id),
        metadata=_struct_to_dict(msg.metadata) if msg.HasField("metadata") else None,
        is_retriable=msg.is_retriable,
        storage_uri=msg.storage_uri,
    )


def _struct_to_dict(value: struct_pb2.Struct) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(value)
    return out


def tile_attrs_to_proto(attrs: models.TileAttrs, out: types_pb2.TileAttrs) -> None:
    out.swath_id, out.tile_nr = attrs.swath_id, attrs.tile_nr
    out.graph_name, out.is_retriable = attrs.graph_name, attrs.is_retriable


def tile_attrs_from_proto(msg: types_pb2.TileAttrs) -> models.TileAttrs:
    return models.TileAttrs(msg.swath_id, msg.tile_nr, msg.graph_name, msg.is_retriable)


def _ref_to_proto(ref: models.TileRef | None, out: types_pb2.TileRef) -> None:
    if ref is not None:
        out.SetInParent()
        out.source_id, out.scene_id = ref.source_id, ref.scene_id
        time_to_proto(ref.date, out, "date")


def _ref_from_proto(parent: Any, field: str) -> models.TileRef | None:
    if not parent.HasField(field):
        return None
    msg = getattr(parent, field)
    return models.TileRef(msg.source_id, msg.scene_id, time_from_proto(msg, "date"))


def catalog_scene_to_proto(scene: models.CatalogScene) -> types_pb2.CatalogScene:
    out = types_pb2.CatalogScene(id=scene.id, source_id=scene.source_id, aoi=scene.aoi, wkt=scene.wkt)
    scene_attrs_to_proto(scene.data, out.data)
    out.tags.update(scene.tags)
    for tile in scene.tiles:
        t = out.tiles.add(
            source_id=tile.source_id, scene_id=tile.scene_id, id=tile.id, anx_time=tile.anx_time, wkt=tile.wkt
        )
        time_to_proto(tile.date, t, "date")
        tile_attrs_to_proto(tile.data, t.data)
        _ref_to_proto(tile.previous, t.previous)
        _ref_to_proto(tile.reference, t.reference)
    return out


def catalog_scene_from_proto(msg: types_pb2.CatalogScene) -> models.CatalogScene:
    return models.CatalogScene(
        id=msg.id,
        source_id=msg.source_id,
        aoi=msg.aoi,
        data=scene_attrs_from_proto(msg.data),
        tags=dict(msg.tags),
        wkt=msg.wkt,
        tiles=[
            models.CatalogTile(
                source_id=t.source_id,
                scene_id=t.scene_id,
                date=time_from_proto(t, "date"),
                data=tile_attrs_from_proto(t.data),
                anx_time=t.anx_time,
                wkt=t.wkt,
                previous=_ref_from_proto(t, "previous"),
                reference=_ref_from_proto(t, "reference"),
                id=t.id,
            )
            for t in msg.tiles
        ],
    )


def area_from_proto(msg: types_pb2.Area) -> models.Area:
    return models.Area(
        name=msg.name,
        geometry_wkt=msg.geometry_wkt,
        start_time=time_from_proto(msg, "start_time"),
        end_time=time_from_proto(msg, "end_time"),
        constellation=msg.scene_type.constellation,
        parameters={k.lower(): v for k, v in msg.scene_type.parameters.items()},
        scene_graph_name=msg.scene_graph_name,
        tile_graph_name=msg.tile_graph_name,
        graph_config=dict(msg.graph_config.entries) if msg.HasField("graph_config") else None,
        layers={k: models.Layer(v.variable, v.instance, v.instance_id) for k, v in msg.layers.items()},
        record_tags=dict(msg.record_tags),
        annotations_urls=list(msg.annotations_urls),
        is_retriable=msg.is_retriable,
        retry_count=msg.retry_count,
        page=msg.page,
        limit=msg.limit,
        storage_uri=msg.storage_uri,
    )


def scene_to_proto(scene: models.Scene, out: types_pb2.Scene | None = None) -> types_pb2.Scene:
    out = out if out is not None else types_pb2.Scene()
    out.id, out.source_id, out.aoi = scene.id, scene.source_id, scene.aoi
    scene_attrs_to_proto(scene.data, out.data)
    out.status = status_to_proto(scene.status)
    out.message, out.retry_countdown = scene.message, scene.retry_countdown
    return out


def scene_from_proto(msg: types_pb2.Scene) -> models.Scene:
    return models.Scene(
        id=msg.id,
        source_id=msg.source_id,
        aoi=msg.aoi,
        data=scene_attrs_from_proto(msg.data),
        status=status_from_proto(msg.status) or models.Status.PENDING,
        message=msg.message,
        retry_countdown=msg.retry_countdown,
    )


def tile_to_proto(tile: models.Tile, out: types_pb2.Tile | None = None) -> types_pb2.Tile:
    out = out if out is not None else types_pb2.Tile()
    out.id, out.source_id = tile.id, tile.source_id
    scene_to_proto(tile.scene, out.scene)
    tile_attrs_to_proto(tile.data, out.data)
    out.status = status_to_proto(tile.status)
    out.message, out.retry_countdown = tile.message, tile.retry_countdown
    if tile.previous_id is not None:
        out.previous_id = tile.previous_id
    if tile.reference_id is not None:
        out.reference_id = tile.reference_id
    return out


def tile_from_proto(msg: types_pb2.Tile) -> models.Tile:
    return models.Tile(
        id=msg.id,
        source_id=msg.source_id,
        scene=scene_from_proto(msg.scene),
        data=tile_attrs_from_proto(msg.data),
        status=status_from_proto(msg.status) or models.Status.NEW,
        message=msg.message,
        previous_id=msg.previous_id if msg.HasField("previous_id") else None,
        reference_id=msg.reference_id if msg.HasField("reference_id") else None,
        retry_countdown=msg.retry_countdown,
    )
