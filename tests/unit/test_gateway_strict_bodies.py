"""The strict bodies of the control endpoints (spec §1.6, §1.7, §1.10): SceneToIngest, SceneAttrs and
TileAttrs decoded as Go's decoder with DisallowUnknownFields does."""

from __future__ import annotations

import json

import pytest

from gateway.refjson import decode_scene_attrs_body, decode_scene_to_ingest, decode_tile_attrs_body
from gateway.refjson.fields import DecodeError
from protos.ingester.v1 import types_pb2

PREVIOUS = "S1B_IW_SLC__1SDV_20180806T170022_20180806T170050_012145_0165D7_27D6"
SOURCE = "S1B_IW_SLC__1SDV_20190825T170029_20190825T170057_017745_02163A_DA7E"

# The example of spec §1.10.
SCENE_TO_INGEST = {
    "id": 0,
    "source_id": SOURCE,
    "aoi": "test",
    "data": {
        "date": "2019-08-31T17:01:13Z",
        "tiles": {"A44_IW1_8951": {"swath_id": "IW1", "tile_nr": 4}},
        "graph_name": "S1Preprocessing",
        "graph_config": {"projection": "EPSG:32632"},
        "record_id": "05a3",
        "instances_id": {"coh_VH": "4c8a"},
        "metadata": None,
        "is_retriable": False,
        "storage_uri": "",
    },
    "tiles": {
        "A44_IW1_8951": {
            "previous_tile_id": "A44_IW1_8951",
            "previous_scene_id": PREVIOUS,
            "reference_tile_id": "A44_IW1_8951",
            "reference_scene_id": PREVIOUS,
            "data": {
                "swath_id": "IW1",
                "tile_nr": 4,
                "graph_name": "S1BackscatterCoherence",
                "is_retriable": False,
            },
        }
    },
    "retry_count": 3,
}


def _body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_scene_to_ingest_becomes_a_catalogue_scene() -> None:
    decoded = decode_scene_to_ingest(_body(SCENE_TO_INGEST))
    assert decoded.retry_count == 3
    scene = decoded.scene
    assert (scene.id, scene.source_id, scene.aoi) == (0, SOURCE, "test")
    assert scene.data.graph_name == "S1Preprocessing"
    assert dict(scene.data.graph_config.entries) == {"projection": "EPSG:32632"}
    assert dict(scene.data.instances_id) == {"coh_VH": "4c8a"}
    assert not scene.data.HasField("metadata")
    assert scene.data.tiles["A44_IW1_8951"] == types_pb2.TileMapping(swath_id="IW1", tile_nr=4)
    [tile] = scene.tiles
    assert (tile.source_id, tile.scene_id) == ("A44_IW1_8951", SOURCE)
    assert tile.date == scene.data.date
    assert tile.data == types_pb2.TileAttrs(swath_id="IW1", tile_nr=4, graph_name="S1BackscatterCoherence")
    assert tile.previous == types_pb2.TileRef(source_id="A44_IW1_8951", scene_id=PREVIOUS)
    assert tile.reference == types_pb2.TileRef(source_id="A44_IW1_8951", scene_id=PREVIOUS)


def test_tile_links_are_set_only_with_a_tile_id() -> None:
    doc = json.loads(json.dumps(SCENE_TO_INGEST))
    doc["tiles"] = {
        "root": {"data": None},
        "previous_only": {"previous_tile_id": "x", "previous_scene_id": PREVIOUS},
        "scene_only": {"previous_scene_id": PREVIOUS, "reference_scene_id": PREVIOUS},
        "bare": None,
    }
    tiles = {t.source_id: t for t in decode_scene_to_ingest(_body(doc)).scene.tiles}
    assert list(tiles) == ["root", "previous_only", "scene_only", "bare"]
    for name in ("root", "scene_only", "bare"):
        assert not tiles[name].HasField("previous") and not tiles[name].HasField("reference")
    assert tiles["previous_only"].HasField("previous") and not tiles["previous_only"].HasField("reference")


def test_keys_match_case_insensitively() -> None:
    doc = {
        "Source_ID": "S",
        "AOI": "a",
        "Data": {"Graph_Name": "g", "TILES": {"t": {"Swath_Id": "IW2"}}},
        "Tiles": {"t": {"Previous_Tile_ID": "p", "DATA": {"Tile_Nr": 2}}},
        "Retry_Count": 1,
    }
    decoded = decode_scene_to_ingest(_body(doc))
    assert (decoded.scene.source_id, decoded.scene.aoi, decoded.retry_count) == ("S", "a", 1)
    assert decoded.scene.data.graph_name == "g"
    assert decoded.scene.data.tiles["t"].swath_id == "IW2"
    assert decoded.scene.tiles[0].previous.source_id == "p"
    assert decoded.scene.tiles[0].data.tile_nr == 2


def test_free_map_keys_are_accepted() -> None:
    doc = {
        "data": {
            "graph_config": {"anything": "x"},
            "instances_id": {"layer": "id"},
            "metadata": {"uuid": "u", "nested": {"deep": [1, {"free": True}]}},
        }
    }
    scene = decode_scene_to_ingest(_body(doc)).scene
    assert scene.data.metadata["nested"]["deep"][1]["free"] is True


@pytest.mark.parametrize(
    "path",
    [
        ("unknown",),
        ("data", "unknown"),
        ("data", "uuid"),  # a legacy alias of the lenient uploads, not a field here
        ("data", "tiles", "A44_IW1_8951", "unknown"),
        ("tiles", "A44_IW1_8951", "unknown"),
        ("tiles", "A44_IW1_8951", "data", "unknown"),
        ("tiles", "A44_IW1_8951", "data", "scene_id"),
    ],
)
def test_unknown_keys_at_any_struct_depth_are_refused(path: tuple[str, ...]) -> None:
    doc = json.loads(json.dumps(SCENE_TO_INGEST))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "x"
    with pytest.raises(DecodeError, match="unknown field"):
        decode_scene_to_ingest(_body(doc))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \n",
        b"{",
        b"[]",
        b'"scene"',
        b'{"id": "1"}',
        b'{"id": 1.5}',
        b'{"retry_count": 2147483648}',
        b'{"data": {"date": "yesterday"}}',
        b'{"data": {"tiles": {"t": {"tile_nr": "4"}}}}',
        b'{"tiles": {"t": "x"}}',
        b'{"tiles": []}',
        b'{"data": {"graph_config": {"k": 1}}}',
        b'{"id": NaN}',
    ],
)
def test_undecodable_scene_to_ingest(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_scene_to_ingest(body)


def test_null_and_trailing_data_as_go_decoder() -> None:
    # `null` is the zero value; Decode reads one value and leaves the rest of the body unread.
    assert decode_scene_to_ingest(b"null").scene == types_pb2.CatalogScene(data=types_pb2.SceneAttrs())
    decoded = decode_scene_to_ingest(b'\xef\xbb\xbf {"aoi":"a"} {"aoi":"b"} garbage')
    assert decoded.scene.aoi == "a"


def test_scene_attrs_body() -> None:
    data = decode_scene_attrs_body(_body(SCENE_TO_INGEST["data"]))
    assert data.graph_name == "S1Preprocessing" and data.record_id == "05a3"
    assert data.date.seconds == 1567270873
    assert decode_scene_attrs_body(b"null") == types_pb2.SceneAttrs()
    assert decode_scene_attrs_body(b'{"Storage_URI": "s3://b"}').storage_uri == "s3://b"
    for bad in (b'{"uuid": "u"}', b'{"tiles": {"t": {"graph_name": "g"}}}', b'{"date": 3}', b"[]", b""):
        with pytest.raises(DecodeError):
            decode_scene_attrs_body(bad)


def test_tile_attrs_body() -> None:
    body = b'{"swath_id":"IW1","tile_nr":4,"graph_name":"g","IS_RETRIABLE":true}'
    assert decode_tile_attrs_body(body) == types_pb2.TileAttrs(
        swath_id="IW1", tile_nr=4, graph_name="g", is_retriable=True
    )
    assert decode_tile_attrs_body(b"{}") == types_pb2.TileAttrs()
    for bad in (b'{"tile":1}', b'{"tile_nr":"1"}', b'{"is_retriable":1}', b"1"):
        with pytest.raises(DecodeError):
            decode_tile_attrs_body(bad)
