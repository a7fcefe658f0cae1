"""Geometries as the Geocube's AOI, and the Geocube settings read from each process's environment."""

from __future__ import annotations

import pytest
import shapely

from services.catalogue.settings import PREFIX as CATALOGUE_PREFIX
from services.catalogue.settings import CatalogueSettings
from libs.domain import models
from libs.geocube import records
from libs.geocube.client import aoi_to_proto
from services.processor.settings import ProcessorSettings
from libs.runtime.errors import InvalidArgument
from libs.runtime.settings import from_env


def test_polygons_with_holes_and_collections_become_aoi_polygons() -> None:
    square = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    other = shapely.box(10, 10, 11, 11)
    aoi = aoi_to_proto(shapely.GeometryCollection([square, shapely.LineString([(0, 0), (1, 1)]), other]))
    assert len(aoi.polygons) == 2
    outer, hole = aoi.polygons[0].linearrings
    assert [(p.lon, p.lat) for p in outer.points] == [(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)]  # closed
    assert len(hole.points) == 5
    assert len(aoi_to_proto(shapely.MultiPolygon([square, other])).polygons) == 2


def test_a_geometry_without_area_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="needs polygons, got LineString"):
        aoi_to_proto(shapely.LineString([(0, 0), (1, 1)]))


def test_each_process_reads_its_own_geocube_variables() -> None:
    environ = {
        "GEOCUBE_CATALOGUE_GEOCUBE_SERVER": "geocube:8080",
        "GEOCUBE_CATALOGUE_GEOCUBE_INSECURE": "true",
        "GEOCUBE_PROCESSOR_GEOCUBE_SERVER": "other:9090",
        "GEOCUBE_PROCESSOR_GEOCUBE_TOKEN": "secret",
        "GEOCUBE_PROCESSOR_STAC_PUBLISH_URL": "http://stac:8081/",
    }
    catalogue = from_env(CatalogueSettings, CATALOGUE_PREFIX, environ)
    assert (catalogue.geocube_server, catalogue.geocube_insecure) == ("geocube:8080", True)
    processor = from_env(ProcessorSettings, ProcessorSettings.PREFIX, environ)
    assert (processor.geocube_server, processor.geocube_insecure, processor.geocube_token) == (
        "other:9090",
        False,
        "secret",
    )
    assert processor.stac_publish_url == "http://stac:8081/" and "secret" not in repr(processor)


def test_processor_settings_name_the_bad_variable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    where = {"catalogue_address": "127.0.0.1:1", "storage_uri": str(tmp_path)}
    with pytest.raises(InvalidArgument, match="GEOCUBE_PROCESSOR_GEOCUBE_SERVER"):
        ProcessorSettings(**where, geocube_server="nohostport").check()  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="GEOCUBE_PROCESSOR_STAC_PUBLISH_URL"):
        ProcessorSettings(**where, stac_publish_url="ftp://x").check()  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "POLYGON ((0 0, 1 0", "POLYGON EMPTY", "é" * 2000])
def test_a_scene_without_a_usable_footprint_is_refused_naming_it(text: str) -> None:
    # "é" * 2000: GEOS cuts the quoted text inside a character; shapely raised UnicodeDecodeError.
    with pytest.raises(InvalidArgument, match=r"scene\[S2A_X\]") as caught:
        records._footprint(models.CatalogScene("S2A_X", wkt=text))
    assert caught.value.field == "scenes"
