"""The workers' proto <-> domain converters: round trips, times, and presence of nullable maps."""

from __future__ import annotations

import datetime as dt

from protos.ingester.v1 import types_pb2
from libs.domain.models import ZERO_TIME, Scene, SceneAttrs, Status, Tile, TileAttrs, TileMapping
from libs.worker import convert

CET = dt.timezone(dt.timedelta(hours=1))


def _scene(**data: object) -> Scene:
    attrs = SceneAttrs(
        date=dt.datetime(2022, 1, 4, 10, 34, 21, 24000, tzinfo=dt.UTC),
        tiles={"A44_IW1_8951": TileMapping("IW1", 4), "A44_IW2_8952": TileMapping("IW2", 5)},
        graph_name="CopyProductToStorage",
        graph_config={"projection": "EPSG:32632"},
        record_id="05a3",
        instances_id={"coh_VH": "4c8a"},
        metadata={"uuid": "abc", "download_link": "file:///x.zip", "extra": {"cloud": 12.5, "ok": True}},
        is_retriable=True,
        storage_uri="file:///data/ingester",
    )
    for key, value in data.items():
        setattr(attrs, key, value)
    return Scene(id=12, source_id="S2A_MSIL1C_X", aoi="DenmarkDemoS2", data=attrs, status=Status.DONE,
                 message="boom", retry_countdown=-1)  # fmt: skip


def _tile(scene: Scene, **fields: object) -> Tile:
    tile = Tile(
        id=7,
        source_id="A44_IW1_8951",
        scene=scene,
        data=TileAttrs("IW1", 4, "library/ExtractS2Bands.json", True),
        status=Status.RETRY,
        message="later",
        previous_id=6,
        reference_id=1,
        retry_countdown=3,
    )
    for key, value in fields.items():
        setattr(tile, key, value)
    return tile


def test_scene_round_trip_keeps_every_field() -> None:
    scene = _scene()
    assert convert.scene_from_proto(convert.scene_to_proto(scene)) == scene


def test_tile_round_trip_keeps_every_field_and_its_scene() -> None:
    tile = _tile(_scene())
    assert convert.tile_from_proto(convert.tile_to_proto(tile)) == tile


def test_proto_round_trip_is_byte_identical() -> None:
    pb = convert.tile_to_proto(_tile(_scene()))
    again = convert.tile_to_proto(convert.tile_from_proto(pb))
    assert again.SerializeToString(deterministic=True) == pb.SerializeToString(deterministic=True)


def test_times_come_back_tz_aware_in_utc() -> None:
    local = dt.datetime(2022, 1, 4, 11, 34, 21, tzinfo=CET)
    back = convert.scene_from_proto(convert.scene_to_proto(_scene(date=local)))
    assert back.data.date.utcoffset() == dt.timedelta(0)
    assert back.data.date == local  # the same instant
    assert back.data.date.hour == 10


def test_unset_date_is_the_reference_zero_time() -> None:
    pb = types_pb2.Scene(id=1, source_id="S2A", aoi="a")
    assert convert.scene_from_proto(pb).data.date == ZERO_TIME
    assert convert.scene_from_proto(convert.scene_to_proto(_scene(date=ZERO_TIME))).data.date == ZERO_TIME


def test_absent_graph_config_and_metadata_are_none() -> None:
    pb = convert.scene_to_proto(_scene(graph_config=None, metadata=None))
    assert not pb.data.HasField("graph_config")
    assert not pb.data.HasField("metadata")
    back = convert.scene_from_proto(pb)
    assert back.data.graph_config is None
    assert back.data.metadata is None


def test_empty_graph_config_and_metadata_stay_present() -> None:
    pb = convert.scene_to_proto(_scene(graph_config={}, metadata={}))
    assert pb.data.HasField("graph_config")
    assert pb.data.HasField("metadata")
    back = convert.scene_from_proto(pb)
    assert back.data.graph_config == {}
    assert back.data.metadata == {}


def test_metadata_struct_becomes_a_plain_dict() -> None:
    pb = types_pb2.Scene(id=1)
    pb.data.metadata.update({"uuid": "u-1", "nested": {"list": [1, "a"]}})
    metadata = convert.scene_from_proto(pb).data.metadata
    assert type(metadata) is dict
    # Struct numbers are doubles (JSON semantics): 1 comes back as 1.0, which compares equal.
    assert metadata == {"uuid": "u-1", "nested": {"list": [1.0, "a"]}}


def test_tile_links_presence() -> None:
    scene = _scene()
    root = _tile(scene, previous_id=None, reference_id=None)
    pb = convert.tile_to_proto(root)
    assert not pb.HasField("previous_id") and not pb.HasField("reference_id")
    assert convert.tile_from_proto(pb).previous_id is None
    # 0 is a value, not an absence.
    zero = convert.tile_from_proto(convert.tile_to_proto(_tile(scene, previous_id=0)))
    assert zero.previous_id == 0


def test_unspecified_status_defaults() -> None:
    assert convert.scene_from_proto(types_pb2.Scene()).status is Status.PENDING
    assert convert.tile_from_proto(types_pb2.Tile()).status is Status.NEW


def test_status_mapping_round_trip() -> None:
    for status in Status:
        assert convert.status_from_proto(convert.status_to_proto(status)) is status
