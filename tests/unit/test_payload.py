"""The one validation of an area payload (services/catalogue/payload.py): each refusal names its field
and reason, the RPCs apply the checks their work needs, in one documented order (docs/payload.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib

import pytest
import shapely

from services.catalogue import payload
from libs.domain import models, products
from libs.runtime.errors import InvalidArgument

SQUARE = "POLYGON ((9 54, 10 54, 10 55, 9 54))"
START, END = dt.datetime(2022, 1, 1, tzinfo=dt.UTC), dt.datetime(2022, 1, 10, tzinfo=dt.UTC)


def _area(**changes: object) -> models.Area:
    area = models.Area(
        name="Denmark", geometry_wkt=SQUARE, start_time=START, end_time=END, constellation="sentinel2",
        scene_graph_name="CopyProductToStorage", tile_graph_name="Pass",
    )  # fmt: skip
    return dataclasses.replace(area, **changes)  # type: ignore[arg-type]


def _refusal(check: object, *args: object, **kwargs: object) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        check(*args, **kwargs)  # type: ignore[operator]
    return caught.value.field, caught.value.reason


def test_a_search_payload_passes_with_its_geometry_and_constellation_resolved() -> None:
    valid = payload.for_search(_area(constellation="S2"))
    assert valid.constellation is products.Constellation.SENTINEL2
    assert valid.geometry.equals(shapely.from_wkt(SQUARE))
    assert valid.area.name == "Denmark"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"constellation": "landsat"}, "scene_type.constellation", "unrecognized constellation: landsat"),
        ({"geometry_wkt": ""}, "geometry", "the area has no geometry"),
        ({"geometry_wkt": "POLYGON ((0 0, 1"}, "geometry", "invalid geometry: ParseException"),
        ({"geometry_wkt": "POLYGON EMPTY"}, "geometry", "the geometry is empty"),
        ({"geometry_wkt": "POINT (1 2)é"}, "geometry", "invalid geometry: ParseException: WKT is ASCII"),
        ({"end_time": START - dt.timedelta(seconds=1)}, "end_time", "end_time is before start_time"),
        ({"page": -1}, "page", "must be 0 or more"),
        ({"limit": -1}, "limit", "must be 0 or more"),
    ],
)
def test_search_refusals(changes: dict[str, object], field: str, reason: str) -> None:
    got_field, got_reason = _refusal(payload.for_search, _area(**changes))
    assert got_field == field and got_reason.startswith(reason)


def test_the_first_failing_check_answers_in_the_documented_order() -> None:
    everything_wrong = _area(
        name="bad name!", constellation="x", geometry_wkt="", end_time=START - dt.timedelta(1), page=-1,
        scene_graph_name="", retry_count=-1, layers={"L": models.Layer()},
    )  # fmt: skip
    order = []
    area = everything_wrong
    fixes = {
        "name": {"name": "Denmark"},
        "scene_type.constellation": {"constellation": "sentinel2"},
        "geometry": {"geometry_wkt": SQUARE},
        "end_time": {"end_time": END},
        "page": {"page": 0},
        "scene_graph_name": {"scene_graph_name": "Pass"},
        "retry_count": {"retry_count": 0},
        "layers.L": {"layers": {}},
    }
    while True:
        try:
            payload.for_ingestion(area, payload.Placement())
        except InvalidArgument as refused:
            order.append(refused.field)
            area = dataclasses.replace(area, **fixes[refused.field])  # type: ignore[arg-type]
            continue
        break
    assert order == list(fixes)


def test_an_ingestion_with_uploads_does_not_apply_the_search_checks() -> None:
    backwards = _area(end_time=START - dt.timedelta(1), page=-1)
    assert payload.for_ingestion(backwards, payload.Placement(), scenes=[]).area is backwards
    assert payload.for_ingestion(backwards, payload.Placement(), tiles=[]).area is backwards
    assert _refusal(payload.for_ingestion, backwards, payload.Placement())[0] == "end_time"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"name": ""}, "name", "wrong format for AOIID (must be chars, numbers and -:_ found '')"),
        ({"name": "a/b"}, "name", "wrong format for AOIID"),
        ({"tile_graph_name": ""}, "tile_graph_name", "required for ingestion"),
        ({"retry_count": -1}, "retry_count", "must be 0 or more"),
        ({"layers": {"B01": models.Layer(variable="B01")}}, "layers.B01", "needs instance_id, or variable"),
        ({"scene_graph_name": "../../etc/passwd"}, "scene_graph_name", "graph name '../../etc/passwd' must"),
        (
            {"tile_graph_name": "gs://bucket/g.json"},
            "tile_graph_name",
            "graph gs://bucket/g.json: unsupported",
        ),
    ],
)
def test_ingestion_refusals(changes: dict[str, object], field: str, reason: str) -> None:
    got_field, got_reason = _refusal(payload.for_ingestion, _area(**changes), payload.Placement())
    assert got_field == field and got_reason.startswith(reason)


def test_a_layer_named_by_id_or_by_variable_and_instance_passes() -> None:
    layers = {"A": models.Layer(instance_id="42"), "B": models.Layer(variable="B01", instance="raw")}
    assert payload.for_ingestion(_area(layers=layers), payload.Placement()).area.layers == layers


def test_placement_uses_the_workers_folders_and_roots(tmp_path: pathlib.Path) -> None:
    (tmp_path / "Mine.json").write_text('{"processing_steps": []}')
    placement = payload.Placement((tmp_path,), ("s3://ok",))
    payload.for_ingestion(_area(tile_graph_name="Mine.json", storage_uri="s3://ok/x"), placement)
    field, reason = _refusal(payload.for_ingestion, _area(tile_graph_name="Nope.json"), placement)
    assert field == "tile_graph_name" and "not found" in reason and str(tmp_path) not in reason
    field, reason = _refusal(payload.for_ingestion, _area(storage_uri="s3://other/x"), placement)
    assert field == "storage_uri" and reason.startswith(
        "storage URI s3://other/x is outside the storage roots"
    )


def test_uploaded_scenes_are_checked_before_tiling() -> None:
    scene = models.CatalogScene(
        "S2A_X",
        data=models.SceneAttrs(graph_name="../x.json"),
        tiles=[models.CatalogTile("T", "S2A_X", START, data=models.TileAttrs(graph_name="../up.json"))],
    )
    placement = payload.Placement()
    assert _refusal(payload.for_ingestion, _area(), placement, scenes=[scene])[0] == "data.graph_name"
    scene.data.graph_name = "Pass"
    # Uploaded scenes are tiled anew: their own tiles do not count; uploaded tiles are used as they are.
    payload.for_ingestion(_area(), placement, scenes=[scene])
    assert _refusal(payload.for_ingestion, _area(), placement, tiles=[scene])[0] == "tiles.T.data.graph_name"


def test_tiling_needs_a_readable_geometry_only() -> None:
    valid = payload.for_tiling(_area(name="", constellation="", geometry_wkt="MULTIPOLYGON EMPTY", page=-1))
    assert valid.geometry.is_empty and valid.constellation is products.Constellation.UNKNOWN
    assert _refusal(payload.for_tiling, _area(geometry_wkt="POLYGON ((0 0, 1"))[0] == "geometry"
    assert _refusal(payload.for_tiling, _area(geometry_wkt=""))[0] == "geometry"
