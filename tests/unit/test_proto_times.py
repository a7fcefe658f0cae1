"""Timestamps across the proto boundary (issue 15): the zero time is an unset Timestamp in both
directions, and the catalogue stores it as the reference does (`0001-01-01T00:00:00Z`)."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from services.catalogue import payload
from services.catalogue.search import cdse_odata, stac
from services.catalogue.store import codec
from libs.domain import models, products
from libs.domain import proto_convert as pc

DATED = dt.datetime(2022, 1, 4, 10, 34, 21, 24000, tzinfo=dt.UTC)


def _catalog_scene(date: dt.datetime) -> models.CatalogScene:
    ref = models.TileRef("S1A_prev", "S1A_scene_prev", date)
    tile = models.CatalogTile(source_id="T1", scene_id="S1", date=date, previous=ref, reference=ref)
    return models.CatalogScene(id=1, source_id="S1", aoi="a", data=models.SceneAttrs(date=date), tiles=[tile])


def test_the_zero_time_leaves_every_timestamp_unset() -> None:
    pb = pc.catalog_scene_to_proto(_catalog_scene(models.ZERO_TIME))
    tile = pb.tiles[0]
    assert not pb.data.HasField("date")
    assert not tile.HasField("date")
    assert not tile.previous.HasField("date") and not tile.reference.HasField("date")
    assert tile.HasField("previous") and tile.HasField("reference")
    assert pc.catalog_scene_from_proto(pb) == _catalog_scene(models.ZERO_TIME)


def test_a_date_is_set_everywhere_and_comes_back() -> None:
    pb = pc.catalog_scene_to_proto(_catalog_scene(DATED))
    assert pb.tiles[0].date.ToDatetime(tzinfo=dt.UTC) == DATED
    assert pb.tiles[0].previous.date == pb.data.date
    assert pc.catalog_scene_from_proto(pb) == _catalog_scene(DATED)


def test_setting_the_zero_time_clears_a_previous_value() -> None:
    pb = pc.catalog_scene_to_proto(_catalog_scene(DATED))
    pc.time_to_proto(models.ZERO_TIME, pb.tiles[0], "date")
    assert not pb.tiles[0].HasField("date")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (models.ZERO_TIME, "0001-01-01T00:00:00Z"),
        (dt.datetime(999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "0999-12-31T23:59:59Z"),
        (DATED, "2022-01-04T10:34:21.024Z"),
        (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_stored_times_are_rfc3339_with_a_four_digit_year(value: dt.datetime, text: str) -> None:
    assert codec.format_time(value) == text
    assert codec.parse_time(text) == value


def test_unpadded_years_written_by_earlier_versions_still_read() -> None:
    assert codec.parse_time("1-01-01T00:00:00Z") == models.ZERO_TIME
    assert codec.parse_time("") == models.ZERO_TIME


def test_an_area_without_times_queries_remote_catalogues_from_year_0001() -> None:
    # The reference sends Go's zero time as 0001-01-01; strftime would write "1-01-01".
    area = models.Area(name="a", geometry_wkt="POINT (10 56)", end_time=DATED)
    # The query builders' own input, built directly: the checks are payload.for_search's.
    s2 = payload.ValidArea(area, shapely.Point(10, 56), products.Constellation.SENTINEL2)
    odata = cdse_odata.build_filter(s2)
    assert (
        "ContentDate/Start gt 0001-01-01T00:00:00.000Z and ContentDate/Start lt 2022-01-04T10:34:21.024Z"
        in odata
    )
    landsat = stac.StacConfig(
        "usgs",
        "http://127.0.0.1:1",
        {products.Constellation.LANDSAT89: "landsat-c2l1"},
        reference_landsat=True,
    )
    landsat89 = payload.ValidArea(area, shapely.Point(10, 56), products.Constellation.LANDSAT89)
    interval = stac.search_parameters(landsat, landsat89)["datetime"]
    assert interval == "0001-01-01T00:00:00.000Z/2022-01-04T23:59:59.999Z"
