"""Protobuf Scene/Tile (types.proto) <-> domain dataclasses (services.domain.models).

Times become timezone-aware UTC datetimes; an unset timestamp is the reference's zero time
(0001-01-01). Presence matters for two fields the reference prints `null` when absent: `graph_config`
(a StringMap message: unset -> None, set but empty -> {}) and `metadata` (a Struct: unset -> None).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from protos.ingester.v1 import types_pb2
from services.domain.models import ZERO_TIME, Scene, SceneAttrs, Status, Tile, TileAttrs, TileMapping

_STATUS_FROM_PROTO = {
    types_pb2.STATUS_NEW: Status.NEW,
    types_pb2.STATUS_PENDING: Status.PENDING,
    types_pb2.STATUS_DONE: Status.DONE,
    types_pb2.STATUS_RETRY: Status.RETRY,
    types_pb2.STATUS_FAILED: Status.FAILED,
}
_STATUS_TO_PROTO = {status: code for code, status in _STATUS_FROM_PROTO.items()}


def status_from_proto(code: int, default: Status) -> Status:
    return _STATUS_FROM_PROTO.get(code, default)  # type: ignore[call-overload]


def status_to_proto(status: Status) -> types_pb2.Status:
    return _STATUS_TO_PROTO[status]


def time_from_proto(stamp: timestamp_pb2.Timestamp, present: bool) -> dt.datetime:
    if not present:
        return ZERO_TIME
    return stamp.ToDatetime(tzinfo=dt.timezone.utc)


def time_to_proto(value: dt.datetime, target: timestamp_pb2.Timestamp) -> None:
    if value.tzinfo is None:
        # Naive datetimes never come from our converters; treat one as UTC rather than local time.
        value = value.replace(tzinfo=dt.timezone.utc)
    target.FromDatetime(value)


def _metadata_from_proto(metadata: struct_pb2.Struct) -> dict[str, Any]:
    # Struct numbers are doubles: an integer in the metadata comes back as a float (JSON semantics).
    result: dict[str, Any] = json_format.MessageToDict(metadata)
    return result


def scene_attrs_from_proto(pb: types_pb2.SceneAttrs) -> SceneAttrs:
    return SceneAttrs(
        date=time_from_proto(pb.date, pb.HasField("date")),
        tiles={key: TileMapping(swath_id=m.swath_id, tile_nr=m.tile_nr) for key, m in pb.tiles.items()},
        graph_name=pb.graph_name,
        graph_config=dict(pb.graph_config.entries) if pb.HasField("graph_config") else None,
        record_id=pb.record_id,
        instances_id=dict(pb.instances_id),
        metadata=_metadata_from_proto(pb.metadata) if pb.HasField("metadata") else None,
        is_retriable=pb.is_retriable,
        storage_uri=pb.storage_uri,
    )


def scene_attrs_to_proto(attrs: SceneAttrs) -> types_pb2.SceneAttrs:
    pb = types_pb2.SceneAttrs(
        graph_name=attrs.graph_name,
        record_id=attrs.record_id,
        instances_id=attrs.instances_id,
        is_retriable=attrs.is_retriable,
        storage_uri=attrs.storage_uri,
    )
    if attrs.date != ZERO_TIME:
        time_to_proto(attrs.date, pb.date)
    for key, mapping in attrs.tiles.items():
        pb.tiles[key].swath_id = mapping.swath_id
        pb.tiles[key].tile_nr = mapping.tile_nr
    if attrs.graph_config is not None:
        pb.graph_config.SetInParent()  # an empty map stays present: `{}` is not `null`
        pb.graph_config.entries.update(attrs.graph_config)
    if attrs.metadata is not None:
        pb.metadata.SetInParent()
        pb.metadata.update(attrs.metadata)
    return pb


def tile_attrs_from_proto(pb: types_pb2.TileAttrs) -> TileAttrs:
    return TileAttrs(
        swath_id=pb.swath_id, tile_nr=pb.tile_nr, graph_name=pb.graph_name, is_retriable=pb.is_retriable
    )


def tile_attrs_to_proto(attrs: TileAttrs) -> types_pb2.TileAttrs:
    return types_pb2.TileAttrs(
        swath_id=attrs.swath_id,
        tile_nr=attrs.tile_nr,
        graph_name=attrs.graph_name,
        is_retriable=attrs.is_retriable,
    )


def scene_from_proto(pb: types_pb2.Scene) -> Scene:
    return Scene(
        id=pb.id,
        source_id=pb.source_id,
        aoi=pb.aoi,
        data=scene_attrs_from_proto(pb.data),
        status=status_from_proto(pb.status, Status.PENDING),
        message=pb.message,
        retry_countdown=pb.retry_countdown,
    )


def scene_to_proto(scene: Scene) -> types_pb2.Scene:
    return types_pb2.Scene(
        id=scene.id,
        source_id=scene.source_id,
        aoi=scene.aoi,
        data=scene_attrs_to_proto(scene.data),
        status=status_to_proto(scene.status),
        message=scene.message,
        retry_countdown=scene.retry_countdown,
    )


def tile_from_proto(pb: types_pb2.Tile) -> Tile:
    return Tile(
        id=pb.id,
        source_id=pb.source_id,
        scene=scene_from_proto(pb.scene),
        data=tile_attrs_from_proto(pb.data),
        status=status_from_proto(pb.status, Status.NEW),
        message=pb.message,
        previous_id=pb.previous_id if pb.HasField("previous_id") else None,
        reference_id=pb.reference_id if pb.HasField("reference_id") else None,
        retry_countdown=pb.retry_countdown,
    )


def tile_to_proto(tile: Tile) -> types_pb2.Tile:
    pb = types_pb2.Tile(
        id=tile.id,
        source_id=tile.source_id,
        scene=scene_to_proto(tile.scene),
        data=tile_attrs_to_proto(tile.data),
        status=status_to_proto(tile.status),
        message=tile.message,
        retry_countdown=tile.retry_countdown,
    )
    if tile.previous_id is not None:
        pb.previous_id = tile.previous_id
    if tile.reference_id is not None:
        pb.reference_id = tile.reference_id
    return pb
