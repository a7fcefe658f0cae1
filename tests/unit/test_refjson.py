"""The reference's JSON formats <-> protos: payload decoding, scenes collections, monitoring views.

Expected strings are written by hand from the rules of spec §1.1, §1.13, §3.4 and §4.3 (key order, Go's
HTML escaping and float/time formats, null versus {}), so a byte of difference is a compatibility bug.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from google.protobuf import timestamp_pb2

from gateway import refjson
from gateway.errors import GatewayError
from gateway.refjson import gojson, scenes
from protos.ingester.v1 import catalogue_pb2, types_pb2

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def _expected_wkt(rings: list[list[list[float]]]) -> str:
    # repr() is the shortest round-tripping form: what full precision means.
    return (
        "MULTIPOLYGON (("
        + ", ".join("(" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + ")" for ring in rings)
        + "))"
    )


# --------------------------------------------------------------------------------------------------
# Payload decoding


@pytest.mark.parametrize(
    "name, aoi, constellation, page, limit, layers",
    [
        ("DenmarkDemoS2.json", "DenmarkDemoS2", "sentinel2", 0, 0, 12),
        ("DenmarkDemoS1.json", "DenmarkDemo", "sentinel1", 0, 0, 4),
        ("DenmarkDemoLandsat.json", "DenmarkDemoLandsat", "landsat89", 1, 4, 11),
        ("OneAtlasDemo.json", "Toulouse", "PHR", 0, 0, 2),
    ],
)
def test_reference_payloads_decode(
    name: str, aoi: str, constellation: str, page: int, limit: int, layers: int
) -> None:
    raw = _fixture(name)
    doc = json.loads(raw)
    area = refjson.decode_area(raw)
    assert area.name == aoi
    assert area.geometry_wkt == _expected_wkt(doc["geometry"]["coordinates"][0])
    assert area.scene_type.constellation == constellation
    assert (area.page, area.limit) == (page, limit)
    assert len(area.layers) == layers
    assert dict(area.record_tags) == doc["record_tags"]
    assert area.scene_graph_name == doc["scene_graph_name"]
    assert area.tile_graph_name == doc["tile_graph_name"]
    assert area.HasField("graph_config")  # every fixture has a graph_config object, even `{}`
    assert dict(area.graph_config.entries) == doc["graph_config"]
    assert area.is_retriable == doc.get("is_retriable", False)
    assert area.retry_count == doc.get("retry_count", 0)
    assert gojson.format_time(area.start_time) == doc["start_time"].replace(".000", "")


def test_s2_payload_details() -> None:
    area = refjson.decode_area(_fixture("DenmarkDemoS2.json"))
    assert area.start_time == _ts(1640995200)  # 2022-01-01T00:00:00Z
    assert area.end_time == _ts(1642028400)  # 2022-01-12T23:00:00Z
    assert dict(area.scene_type.parameters) == {"cloudcoverpercentage": "[0 TO 80]"}
    assert (area.layers["B07"].variable, area.layers["B07"].instance) == ("B07", "raw")
    assert len(area.graph_config.entries) == 0
    assert area.geometry_wkt.startswith(
        "MULTIPOLYGON (((10.061230468750068 54.88637695312502, 9.957128906249977"
    )


def test_keys_are_case_insensitive_and_unknown_keys_ignored() -> None:
    raw = json.dumps(
        {
            "TYPE": "Feature",
            "Geometry": {"Type": "Polygon", "COORDINATES": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "Name": "Case",
            "START_TIME": "2022-01-01T00:00:00Z",
            "Scene_Type": {"Constellation": "sentinel2", "PARAMETERS": {"CloudCoverPercentage": "[0 TO 10]"}},
            "Layers": {"B01": {"Variable": "B01", "INSTANCE": "raw", "Instance_ID": "x"}},
            "Record_Tags": {"Area": "Denmark"},
            "Is_Retriable": True,
            "RETRY_COUNT": 2,
            "whatever": {"nested": [1, 2]},
            "properties": {"ignored": True},
        }
    )
    area = refjson.decode_area(raw)
    assert area.name == "Case"
    assert area.geometry_wkt == "POLYGON ((0 0, 1 0, 1 1, 0 0))"
    assert area.start_time == _ts(1640995200)
    assert area.scene_type.constellation == "sentinel2"
    # Parameter names travel lower-cased (types.proto); tag and layer names are map keys, kept as written.
    assert dict(area.scene_type.parameters) == {"cloudcoverpercentage": "[0 TO 10]"}
    assert (area.layers["B01"].variable, area.layers["B01"].instance, area.layers["B01"].instance_id) == (
        "B01",
        "raw",
        "x",
    )
    assert dict(area.record_tags) == {"Area": "Denmark"}
    assert area.is_retriable and area.retry_count == 2
    assert not area.HasField("graph_config")


def test_last_matching_key_wins() -> None:
    area = refjson.decode_area('{"type":"Point","coordinates":[1,2],"name":"first","NAME":"second"}')
    assert area.name == "second"
    assert area.geometry_wkt == "POINT (1 2)"


def test_feature_collection_merges_areal_geometries() -> None:
    square = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
    raw = json.dumps(
        {
            "type": "FeatureCollection",
            "name": "Merged",
            "features": [
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square}},
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}},
                {"type": "Feature", "geometry": None},
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [[[2, 2], [3, 2], [3, 3], [2, 2]]],
                            [[[4, 4], [5, 4], [5, 5], [4, 4]]],
                        ],
                    },
                },
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "GeometryCollection",
                        "geometries": [
                            {"type": "LineString", "coordinates": [[0, 0], [9, 9]]},
                            {"type": "Polygon", "coordinates": [[[6, 6], [7, 6], [7, 7], [6, 6]]]},
                        ],
                    },
                },
            ],
        }
    )
    area = refjson.decode_area(raw)
    assert area.name == "Merged"
    assert area.geometry_wkt == (
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 1, 0 0)), ((2 2, 3 2, 3 3, 2 2)), ((4 4, 5 4, 5 5, 4 4)), "
        "((6 6, 7 6, 7 7, 6 6)))"
    )


def test_bare_geometry_keeps_full_precision_and_drops_z() -> None:
    raw = '{"type":"Polygon","coordinates":[[[0.1,0.2,9],[1.000000000000001,0,9],[1,1,9],[0.1,0.2,9]]]}'
    assert refjson.decode_area(raw).geometry_wkt == "POLYGON ((0.1 0.2, 1.000000000000001 0, 1 1, 0.1 0.2))"


@pytest.mark.parametrize(
    "graph_config, has_field, entries",
    [
        (None, False, {}),
        ("absent", False, {}),
        ({}, True, {}),
        ({"projection": "EPSG:32632"}, True, {"projection": "EPSG:32632"}),
    ],
)
def test_graph_config_null_versus_empty(
    graph_config: object, has_field: bool, entries: dict[str, str]
) -> None:
    doc: dict[str, object] = {"type": "Point", "coordinates": [0, 0]}
    if graph_config != "absent":
        doc["graph_config"] = graph_config
    area = refjson.decode_area(json.dumps(doc))
    assert area.HasField("graph_config") is has_field
    assert dict(area.graph_config.entries) == entries


def test_times_are_rfc3339_with_offsets_and_nanoseconds() -> None:
    raw = '{"type":"Point","coordinates":[0,0],"start_time":"2022-01-01T02:00:00.123456789123+02:00","end_time":null}'
    area = refjson.decode_area(raw)
    assert area.start_time == _ts(1640995200, 123456789)
    assert not area.HasField("end_time")


def _area_failure(raw: str) -> str:
    with pytest.raises(GatewayError) as failure:
        refjson.decode_area(raw)
    assert failure.value.status == 400
    return failure.value.text


@pytest.mark.parametrize(
    "payload, reason",
    [
        ('{"name":"x","geometry":{"type":"Point","coordinates":[0,0]}}', "missing geojson field 'type'"),
        ('{"type":"Circle","name":"x"}', "unknown type"),
        ('{"type":"Point","coordinates":[0,0],"start_time":"2022-01-01"}', "field 'start_time'"),
        ('{"type":"Point","coordinates":[0,0],"end_time":"2022-13-01T00:00:00Z"}', "field 'end_time'"),
        (
            '{"type":"Point","coordinates":[0,0],"retry_count":"1"}',
            "field 'retry_count': expected an integer, got string",
        ),
        ('{"type":"Point","coordinates":[0,0],"page":1.5}', "field 'page'"),
        (
            '{"type":"Point","coordinates":[0,0],"graph_config":{"a":1}}',
            "field 'graph_config.a': expected a string",
        ),
        (
            '{"type":"Point","coordinates":[0,0],"layers":{"B01":"raw"}}',
            "field 'layers.B01': expected an object",
        ),
        ('{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}', "field 'coordinates'"),
        (
            '{"type":"Feature","geometry":{"type":"Polygon","coordinates":"x"}}',
            "field 'geometry.coordinates'",
        ),
        ("[1,2]", "must be a JSON object"),
    ],
)
def test_payload_errors_name_the_problem_and_echo_the_json(payload: str, reason: str) -> None:
    text = _area_failure(payload)
    assert text.startswith("loadArea: ")
    assert reason in text
    assert text.endswith("\nJSON:\n" + payload)


def test_malformed_json_gives_the_parse_error() -> None:
    text = _area_failure('{"type": "Feature",')
    assert text.startswith("loadArea: Expecting")
    assert text.endswith('\nJSON:\n{"type": "Feature",')


def test_empty_area_is_the_reference_missing_field_text() -> None:
    assert _area_failure("") == "loadArea: missing required field: 'area' (application/json)"


@pytest.mark.parametrize("key", ["aoi", "AOI", "Aoi"])
def test_aoi_key_is_rejected_clearly(key: str) -> None:
    raw = '{"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"' + key + '":"Denmark"}'
    text = _area_failure(raw)
    assert "field 'aoi' is not supported" in text and "'name'" in text


# --------------------------------------------------------------------------------------------------
# Scenes collections: decoding uploads


def test_legacy_scenes_json_loads_with_its_wkt() -> None:
    loaded = refjson.decode_scenes(_fixture("scenes.json"))
    assert len(loaded) == 3
    first = loaded[0]
    assert first.source_id == "S1A_IW_SLC__1SDV_20220204T170123_20220204T170150_041766_04F863_D5BE"
    assert first.aoi == "DenmarkDemo"
    assert first.wkt.startswith("MULTIPOLYGON (((9.198432 54.109722, 13.150673 54.52261")
    assert first.tags["relativeOrbit"] == "44" and first.tags["area"] == "Denmark"
    assert gojson.format_time(first.data.date) == "2022-02-04T17:01:23.133Z"
    assert first.data.graph_name == "S1Preprocessing"
    assert dict(first.data.graph_config.entries)["projection"] == "EPSG:32632"
    # Legacy `data.uuid` moves to `metadata.uuid`.
    assert dict(first.data.metadata) == {"uuid": "d82774b2-b84a-4a90-a499-94e68f92abeb"}
    assert not first.tiles and not first.data.tiles and not first.data.instances_id


def test_legacy_tiles_json_loads_tiles_with_wkt_and_anx_time() -> None:
    loaded = refjson.decode_scenes(_fixture("tiles.json"))
    assert len(loaded) == 3
    scene = loaded[0]
    assert scene.wkt.startswith("MULTIPOLYGON (((9.198432 54.109722")
    assert len(scene.tiles) == 3 and len(scene.data.tiles) == 3
    tile = scene.tiles[0]
    assert (tile.source_id, tile.anx_time) == ("A44_IW1_8951", 8951)
    assert (
        tile.wkt
        == "POLYGON((9.019858 54.602843, 8.959417 54.767446, 10.442057 54.936948, 10.496274 54.772055, 9.019858 54.602843))"
    )
    assert tile.scene_id == scene.source_id
    assert (tile.data.swath_id, tile.data.tile_nr, tile.data.graph_name) == (
        "IW1",
        4,
        "S1BackscatterCoherence",
    )
    assert tile.previous.scene_id.endswith("_1609") and tile.previous.source_id == "A44_IW1_8951"
    assert gojson.format_time(tile.reference.date) == "2022-01-11T17:01:24.37Z"
    assert scene.data.tiles["A44_IW1_9007"].tile_nr == 6
    # The root scene of the series has tiles without previous/reference.
    root = loaded[2]
    assert root.tiles and not root.tiles[0].HasField("previous") and not root.tiles[0].HasField("reference")


def test_feature_geometries_are_ignored_and_current_keys_win() -> None:
    raw = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Nonsense"},
                    "properties": {
                        "SOURCE_ID": "S2B_X",
                        "Wkt": "POINT (1 1)",
                        "GeometryWKT": "POINT (9 9)",
                        "ID": 7,
                    },
                },
                {"type": "Feature", "properties": None},
            ],
        }
    )
    first, second = refjson.decode_scenes(raw)
    assert (first.source_id, first.wkt, first.id) == ("S2B_X", "POINT (1 1)", 7)
    assert second == types_pb2.CatalogScene()


@pytest.mark.parametrize(
    "raw, reason",
    [
        ('{"features":[', "Expecting"),
        ('{"features":{}}', "field 'features': expected an array"),
        (
            '{"features":[{"properties":{"data":{"date":"yesterday"}}}]}',
            "field 'features[0].properties.data.date'",
        ),
        (
            '{"features":[{"properties":{"tiles":[{"anx_time":1.5}]}}]}',
            "features[0].properties.tiles[0].anx_time",
        ),
    ],
)
def test_invalid_collections_answer_raw_json_then_error(raw: str, reason: str) -> None:
    with pytest.raises(GatewayError) as failure:
        refjson.decode_scenes(raw)
    assert failure.value.status == 400
    assert failure.value.text.startswith(raw + " ")
    assert reason in failure.value.text


def test_reference_geometries_are_reproduced_byte_for_byte() -> None:
    # The legacy files were written by the reference: their feature geometries are its exact output.
    for name in ("scenes.json", "tiles.json"):
        original = json.loads(_fixture(name))
        for feature, scene in zip(original["features"], refjson.decode_scenes(_fixture(name)), strict=True):
            assert gojson.dumps(scenes.scene_geometry(scene)) == json.dumps(
                feature["geometry"], separators=(",", ":")
            )


def test_collection_round_trip() -> None:
    loaded = refjson.decode_scenes(_fixture("tiles.json"))
    encoded = refjson.encode_scene_collection(loaded)
    assert refjson.decode_scenes(encoded) == loaded
    assert refjson.encode_scene_collection(refjson.decode_scenes(encoded)) == encoded


# --------------------------------------------------------------------------------------------------
# Scenes collections: encoding


def _hand_checked_scenes() -> list[types_pb2.CatalogScene]:
    plain = types_pb2.CatalogScene(
        source_id="S2A_X",
        aoi="demo",
        tags={"b": "2", "a": "1"},
        wkt="MULTIPOLYGON (((1 2, 3 2, 3 4, 1 2)))",
        data=types_pb2.SceneAttrs(
            date=_ts(1641292471, 24_000_000),
            graph_name="CopyProductToStorage",
            graph_config=types_pb2.StringMap(),
            is_retriable=True,
        ),
    )
    plain.data.metadata.update({"uuid": "u-1", "download_link": "http://x?a=1&b=2"})
    tiled = types_pb2.CatalogScene(
        source_id="S1A_<Y>&",
        aoi="demo",
        wkt="POLYGON ((0 0, 10 0, 10 10, 0 0))",
        data=types_pb2.SceneAttrs(
            date=_ts(1641984199),
            tiles={"A44_IW1_8951": types_pb2.TileMapping(swath_id="IW1", tile_nr=4)},
            graph_name="S1Preprocessing",
            instances_id={"coh_VV": "i1", "coh_VH": "i2"},
        ),
        tiles=[
            types_pb2.CatalogTile(
                source_id="A44_IW1_8951",
                scene_id="S1A_<Y>&",
                date=_ts(1641984199),
                data=types_pb2.TileAttrs(
                    swath_id="IW1", tile_nr=4, graph_name="S1BackscatterCoherence", is_retriable=True
                ),
                anx_time=8951,
                wkt="POLYGON ((0 0, 1 0, 1 1, 0 0))",
                previous=types_pb2.TileRef(
                    source_id="A44_IW1_8951", scene_id="S1B_P", date=_ts(1641465799, 500_000_000)
                ),
            ),
            types_pb2.CatalogTile(source_id="A44_IW1_8979", data=types_pb2.TileAttrs(), wkt="POINT (5 5)"),
        ],
    )
    return [plain, tiled]


HAND_CHECKED_COLLECTION = (
    '{"type":"FeatureCollection","features":['
    '{"type":"Feature","id":0,"geometry":{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4],[1,2]]]},'
    '"properties":{"aoi":"demo","data":{"date":"2022-01-04T10:34:31.024Z","graph_config":{},'
    '"graph_name":"CopyProductToStorage","is_retriable":true,'
    '"metadata":{"download_link":"http://x?a=1\\u0026b=2","uuid":"u-1"},"record_id":"","storage_uri":""},'
    '"id":0,"source_id":"S2A_X","tags":{"a":"1","b":"2"},"wkt":"MULTIPOLYGON (((1 2, 3 2, 3 4, 1 2)))"}},'
    '{"type":"Feature","id":1,"geometry":{"type":"MultiPolygon","coordinates":'
    "[[[[0,0],[10,0],[10,10],[0,0]]],[[[0,0],[1,0],[1,1],[0,0]]]]},"
    '"properties":{"aoi":"demo","data":{"date":"2022-01-12T10:43:19Z","graph_config":null,'
    '"graph_name":"S1Preprocessing","instances_id":{"coh_VH":"i2","coh_VV":"i1"},"is_retriable":false,'
    '"metadata":null,"record_id":"","storage_uri":"","tiles":{"A44_IW1_8951":{"swath_id":"IW1","tile_nr":4}}},'
    '"id":0,"source_id":"S1A_\\u003cY\\u003e\\u0026","tags":null,"tiles":['
    '{"Date":"2022-01-12T10:43:19Z","SceneID":"S1A_\\u003cY\\u003e\\u0026","SourceID":"A44_IW1_8951",'
    '"anx_time":8951,"data":{"graph_name":"S1BackscatterCoherence","is_retriable":true,"swath_id":"IW1",'
    '"tile_nr":4},"id":0,"previous":{"Date":"2022-01-06T10:43:19.5Z","SceneID":"S1B_P",'
    '"SourceID":"A44_IW1_8951"},"reference":null,"wkt":"POLYGON ((0 0, 1 0, 1 1, 0 0))"},'
    '{"Date":"0001-01-01T00:00:00Z","SceneID":"","SourceID":"A44_IW1_8979","anx_time":0,'
    '"data":{"graph_name":"","is_retriable":false,"swath_id":"","tile_nr":0},"id":0,"previous":null,'
    '"reference":null,"wkt":"POINT (5 5)"}],'
    '"wkt":"POLYGON ((0 0, 10 0, 10 10, 0 0))"}}'
    '],"properties":{"next":"false"}}\n'
)


def test_scene_collection_matches_the_reference_byte_for_byte() -> None:
    assert refjson.encode_scene_collection(_hand_checked_scenes(), next_page=False) == HAND_CHECKED_COLLECTION


def test_collection_properties_only_for_searches() -> None:
    assert refjson.encode_scene_collection([], next_page=True) == (
        '{"type":"FeatureCollection","features":[],"properties":{"next":"true"}}\n'
    )
    assert refjson.encode_scene_collection([]) == '{"type":"FeatureCollection","features":[]}\n'


def test_hand_checked_collection_decodes_back() -> None:
    assert refjson.decode_scenes(HAND_CHECKED_COLLECTION) == _hand_checked_scenes()


# --------------------------------------------------------------------------------------------------
# Monitoring views


def test_scene_view_keeps_struct_order_and_sorts_maps() -> None:
    scene = types_pb2.Scene(
        id=12,
        source_id="S2A_X",
        aoi="DenmarkDemoS2",
        data=types_pb2.SceneAttrs(
            date=_ts(1641292471, 24_000_000),
            graph_name="CopyProductToStorage",
            graph_config=types_pb2.StringMap(entries={"a": "<b>"}),
            record_id="r1",
            instances_id={"B01": "i1"},
            is_retriable=True,
        ),
        status=types_pb2.STATUS_DONE,
        retry_countdown=-1,
    )
    scene.data.metadata.update({"uuid": "u", "n": 3, "nested": {"z": 1, "a": [1.5, "x"]}})
    assert refjson.encode_scenes([scene]) == (
        '[{"id":12,"source_id":"S2A_X","aoi":"DenmarkDemoS2","data":{"date":"2022-01-04T10:34:31.024Z",'
        '"graph_name":"CopyProductToStorage","graph_config":{"a":"\\u003cb\\u003e"},"record_id":"r1",'
        '"instances_id":{"B01":"i1"},"metadata":{"n":3,"nested":{"a":[1.5,"x"],"z":1},"uuid":"u"},'
        '"is_retriable":true,"storage_uri":""},"status":"DONE","message":"","RetryCountDown":-1}]\n'
    )


def test_tile_view_with_unjoined_scene() -> None:
    tile = types_pb2.Tile(
        id=12,
        source_id="S2A_X",
        scene=types_pb2.Scene(id=12),
        data=types_pb2.TileAttrs(graph_name="library/ExtractS2Bands.json", is_retriable=True),
        status=types_pb2.STATUS_RETRY,
        message="boom & <bang>",
        retry_countdown=-1,
    )
    assert refjson.encode_tile(tile) == (
        '{"id":12,"source_id":"S2A_X","scene":{"id":12,"source_id":"","aoi":"","data":'
        '{"date":"0001-01-01T00:00:00Z","graph_name":"","graph_config":null,"record_id":"","metadata":null,'
        '"is_retriable":false,"storage_uri":""}},"data":{"swath_id":"","tile_nr":0,'
        '"graph_name":"library/ExtractS2Bands.json","is_retriable":true},"status":"RETRY",'
        '"message":"boom \\u0026 \\u003cbang\\u003e","PreviousID":null,"ReferenceID":null,"RetryCountDown":-1}\n'
    )
    tile.previous_id, tile.reference_id = 3, 0
    assert '"PreviousID":3,"ReferenceID":0,' in refjson.encode_tiles([tile])


def test_aoi_list_and_id() -> None:
    aois = [
        types_pb2.Aoi(id="DenmarkDemo", status=types_pb2.STATUS_DONE),
        types_pb2.Aoi(id="b", status=types_pb2.STATUS_NEW),
    ]
    assert refjson.encode_aois(aois) == '[{"ID":"DenmarkDemo","status":"DONE"},{"ID":"b","status":"NEW"}]\n'
    assert refjson.encode_aois([]) == "[]\n"
    assert refjson.encode_scenes([]) == "[]\n"
    assert refjson.encode_id(42) == '{"id":42}'


def test_aoi_report_text() -> None:
    report = catalogue_pb2.GetAoiReportResponse(
        scenes=catalogue_pb2.StatusCounts(new=0, pending=1, done=2, retry=0, failed=1, total=4),
        tiles=catalogue_pb2.StatusCounts(new=3, pending=0, done=10, retry=1, failed=0, total=14),
        root_tiles=5,
        to=_ts(1641984199),
    )
    getattr(report, "from").CopyFrom(_ts(1641292471))
    assert refjson.aoi_report(report) == (
        "Scenes:\n  new:     0\n  pending: 1\n  done:    2\n  retry:   0\n  failed:  1\n  Total:   4\n"
        "Tiles:\n  new:     3\n  pending: 0\n  done:    10\n  retry:   1\n  failed:  0\n  Total:   14\n"
        "\nRoot tiles : 5\n  From: 2022-01-04\n  To:   2022-01-12\n"
    )
    empty = refjson.aoi_report(catalogue_pb2.GetAoiReportResponse())
    assert empty.endswith(
        "\nRoot tiles : 0\n  From: " + gojson.format_date(_now()) + "\n  To:   0001-01-01\n"
    )


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


# --------------------------------------------------------------------------------------------------
# Go primitives


@pytest.mark.parametrize(
    "value, text",
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (3.0, "3"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e21, "1.5e+21"),
        (1e20, "100000000000000000000"),
        (12.720232, "12.720232"),
        (1.2345e-10, "1.2345e-10"),
    ],
)
def test_floats_format_like_go(value: float, text: str) -> None:
    assert gojson.format_float(value) == text


@pytest.mark.parametrize(
    "nanoseconds, text",
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (812_400_000, "812.4ms"),
        (1_503_000_000, "1.503s"),
        (90_500_000_000, "1m30.5s"),
        (3_600_000_000_000, "1h0m0s"),
    ],
)
def test_durations_format_like_go(nanoseconds: int, text: str) -> None:
    assert gojson.format_duration(nanoseconds) == text


def test_strings_escape_like_go() -> None:
    assert (
        gojson.dumps("<a href='x'>&\u2028\n\t\x01\x7f é")
        == "\"\\u003ca href='x'\\u003e\\u0026\\u2028\\n\\t\\u0001\x7f é\""
    )


@pytest.mark.parametrize(
    "ts, text",
    [
        (None, "0001-01-01T00:00:00Z"),
        (_ts(-62135596800), "0001-01-01T00:00:00Z"),
        (_ts(1641292471, 24_000_000), "2022-01-04T10:34:31.024Z"),
        (_ts(1641292471, 1), "2022-01-04T10:34:31.000000001Z"),
    ],
)
def test_times_format_like_go(ts: timestamp_pb2.Timestamp | None, text: str) -> None:
    assert gojson.format_time(ts) == text
