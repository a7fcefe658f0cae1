"""STAC Items from stored files (libs/stac/items.py) and the static layout (libs/stac/static.py)."""

from __future__ import annotations

import datetime as dt
import pathlib

import numpy as np
import pystac
import pytest
import rasterio

from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.stac import items, static

WHEN = dt.datetime(2022, 1, 2, 10, 36, tzinfo=dt.UTC)


def _cog(path: pathlib.Path, description: str = "B02", crs: str | None = "EPSG:32632") -> pathlib.Path:
    profile = {"driver": "COG", "width": 64, "height": 32, "count": 1, "dtype": "uint16", "nodata": 0}
    if crs:
        profile.update(crs=crs, transform=rasterio.Affine(20, 0, 500000, 0, -20, 6200000))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.arange(1, 64 * 32 + 1, dtype="uint16").reshape(1, 32, 64))
        dst.set_band_description(1, description)
    return path


def _tile(scene_id: str = "S2A_MSIL1C_X", tile_id: str = "S2A_MSIL1C_X") -> Tile:
    scene = Scene(1, scene_id, "Aoi", SceneAttrs(date=WHEN, record_id="rec-1", instances_id={"B02": "inst"}))
    return Tile(1, tile_id, scene, TileAttrs())


def test_item_of_a_cog_has_projection_raster_and_eo_fields(tmp_path: pathlib.Path) -> None:
    path = _cog(tmp_path / "b02.tif")
    file = items.ItemFile("B02", "s3://bucket/b02.tif", path, "inst", scale=0.5, offset=-1.0)
    item = items.build_item("id-1", "Aoi", WHEN, [file], common_names=items.SENTINEL2_COMMON_NAMES)
    asset = item.assets["B02"]
    assert asset.href == "s3://bucket/b02.tif" and asset.roles == ["data"]
    assert asset.media_type == pystac.MediaType.COG
    assert asset.extra_fields["proj:code"] == "EPSG:32632"
    assert asset.extra_fields["proj:shape"] == [32, 64]
    (band,) = asset.extra_fields["raster:bands"]
    assert (band["data_type"], band["nodata"], band["scale"], band["offset"]) == ("uint16", 0, 0.5, -1.0)
    assert band["statistics"]["minimum"] == 1 and "histogram" not in band
    assert asset.extra_fields["eo:bands"] == [{"name": "B02", "common_name": "blue"}]
    assert len(item.stac_extensions) == 3
    # The footprint is the raster's, in EPSG:4326 (UTM 32N, easting 500000 is 9°E).
    west, south, east, north = item.bbox or []
    assert west == pytest.approx(9.0, abs=1e-6) and 55.9 < south < north < 56.0 and east > west
    assert item.datetime == WHEN and item.collection_id == "Aoi"


def test_files_that_are_not_rasters_are_assets_by_name(tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "x.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    files = [items.ItemFile("product", "file:///x.zip", archive), items.ItemFile("meta", "file:///m.json")]
    item = items.build_item(
        "id", "Aoi", WHEN, files, fallback_geometry_wkt="POLYGON((1 2, 3 2, 3 4, 1 4, 1 2))"
    )
    assert item.assets["product"].media_type == "application/zip"
    assert item.assets["meta"].media_type == pystac.MediaType.JSON
    assert item.bbox == [1, 2, 3, 4] and item.stac_extensions == []
    without = items.build_item("id", "Aoi", WHEN, files[1:])
    assert without.geometry is None and without.bbox is None


def test_unnamed_bands_get_no_eo_and_a_naive_datetime_is_refused(tmp_path: pathlib.Path) -> None:
    path = _cog(tmp_path / "x.tif", description="")
    item = items.build_item("id", "Aoi", WHEN, [items.ItemFile("x", "x.tif", path)])
    assert "eo:bands" not in item.assets["x"].extra_fields
    with pytest.raises(ValueError, match="timezone"):
        items.build_item("id", "Aoi", WHEN.replace(tzinfo=None), [])


def test_tile_items_follow_the_processor_conventions(tmp_path: pathlib.Path) -> None:
    path = _cog(tmp_path / "b02.tif")
    item = items.build_tile_item(_tile(), [items.ItemFile("B02", "b02.tif", path)])
    assert item.id == "S2A_MSIL1C_X" and item.collection_id == "Aoi"
    assert item.properties[items.RECORD_PROPERTY] == "rec-1"
    assert item.properties["platform"] == "sentinel-2a"
    assert items.tile_item_id(_tile(tile_id="T32UNF")) == "S2A_MSIL1C_X_T32UNF"


def test_static_layout_uses_relative_hrefs(tmp_path: pathlib.Path) -> None:
    tile = _tile(tile_id="T1")
    key = static.item_key(tile)
    assert key == "Aoi/S2A_MSIL1C_X/tiles/T1.json"
    item = items.build_item("i", "Aoi", WHEN, [items.ItemFile("B02", "file:///abs/b.tif")])
    doc = static.static_item(item, key, {"B02": "Aoi/S2A_MSIL1C_X/tiles/T1/b.tif"})
    assert doc["assets"]["B02"]["href"] == "./T1/b.tif"
    links = {link["rel"]: link["href"] for link in doc["links"]}
    assert links == {
        "root": "../../../catalog.json",
        "parent": "../../collection.json",
        "collection": "../../collection.json",
    }
    facts = static.CollectionFacts("Aoi", [1, 2, 3, 4], WHEN, WHEN, [("i", key)])
    collection = static.collection_document(facts)
    assert [link["href"] for link in collection["links"] if link["rel"] == "item"] == [
        "./S2A_MSIL1C_X/tiles/T1.json"
    ]
    assert static.catalog_document(["Aoi"])["links"][1]["href"] == "./Aoi/collection.json"
