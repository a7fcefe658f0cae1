"""Scene sources chosen by the catalogue settings (GEOCUBE_CATALOGUE_SCENE_SOURCES and friends)."""

from __future__ import annotations

import pathlib

import pytest

from services.catalogue import app
from services.catalogue.search.archive_source import ArchiveSource
from services.catalogue.search.cdse_odata import CdseODataSource
from services.catalogue.search.sources import parse_chains
from services.catalogue.search.stac import StacSource
from services.catalogue.settings import PREFIX, CatalogueSettings
from libs.domain.products import Constellation
from libs.runtime import settings as runtime_settings
from libs.runtime.errors import InvalidArgument


def test_nothing_configured_keeps_the_archive_for_everything(tmp_path: pathlib.Path) -> None:
    sources, archive = app.build_sources(CatalogueSettings(archive_path=str(tmp_path)))
    assert archive is not None
    assert set(sources) == set(Constellation) - {Constellation.UNKNOWN}
    assert all(len(chain) == 1 and isinstance(chain[0], ArchiveSource) for chain in sources.values())
    assert app.build_sources(CatalogueSettings()) == ({}, None)


def test_chains_from_the_environment(tmp_path: pathlib.Path) -> None:
    environ = {
        PREFIX + "ARCHIVE_PATH": str(tmp_path),
        PREFIX + "SCENE_SOURCES": "sentinel1=cdse,archive; Sentinel-2=cdse,stac ;landsat=usgs-stac",
        PREFIX + "STAC_URL": "https://stac.example/v1",
        PREFIX + "STAC_COLLECTIONS": "sentinel2=sentinel-2-c1-l1c",
        PREFIX + "SOURCE_TIMEOUT": "7.5",
        PREFIX + "STAC_TOKEN": "s3cr3t",
    }
    config = runtime_settings.from_env(CatalogueSettings, PREFIX, environ)
    assert "s3cr3t" not in repr(config)  # settings may be logged; tokens never
    sources, _ = app.build_sources(config)
    s1, s2, landsat = (
        sources[c] for c in (Constellation.SENTINEL1, Constellation.SENTINEL2, Constellation.LANDSAT89)
    )
    assert [type(s) for s in s1] == [CdseODataSource, ArchiveSource]
    assert s1[0] is s2[0]  # one client per source
    assert isinstance(s2[1], StacSource) and s2[1].config.collections == {
        Constellation.SENTINEL2: "sentinel-2-c1-l1c"
    }
    assert (
        s2[1].config.options.headers == {"Authorization": "Bearer s3cr3t"}
        and s2[1].config.options.timeout == 7.5
    )
    assert isinstance(landsat[0], StacSource) and landsat[0].config.reference_landsat
    assert landsat[0].config.url == "https://landsatlook.usgs.gov/stac-server"
    assert [type(s) for s in sources[Constellation.PHR]] == [ArchiveSource]  # left out: the archive


@pytest.mark.parametrize(
    ("scene_sources", "archive", "message"),
    [
        ("sentinel1", True, "expected <constellation>=<source>"),
        ("sentinel1=", True, "expected <constellation>=<source>"),
        ("sentinel1=scihub", True, "unknown source 'scihub'"),
        ("landsat7=usgs-stac", True, "unknown constellation 'landsat7'"),
        ("landsat89=cdse", True, "source 'cdse' has no Landsat89 scenes"),
        ("sentinel1=stac", True, "source 'stac' has no Sentinel1 scenes"),
        ("sentinel2=cdse,archive", False, "source 'archive' needs GEOCUBE_CATALOGUE_ARCHIVE_PATH"),
    ],
)
def test_bad_settings_are_refused_at_start_up(
    tmp_path: pathlib.Path, scene_sources: str, archive: bool, message: str
) -> None:
    config = CatalogueSettings(archive_path=str(tmp_path) if archive else "", scene_sources=scene_sources)
    with pytest.raises(InvalidArgument, match=message) as error:
        app.build_sources(config)
    assert error.value.field == "GEOCUBE_CATALOGUE_SCENE_SOURCES"


def test_stac_collections_setting_is_checked(tmp_path: pathlib.Path) -> None:
    config = CatalogueSettings(scene_sources="sentinel2=stac", stac_collections="sentinel2")
    with pytest.raises(InvalidArgument) as error:
        app.build_sources(config)
    assert error.value.field == "GEOCUBE_CATALOGUE_STAC_COLLECTIONS"


def test_parse_chains_keeps_the_order() -> None:
    assert parse_chains("S2=stac,cdse") == {Constellation.SENTINEL2: ["stac", "cdse"]}
    assert parse_chains("") == {}
