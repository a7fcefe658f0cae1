"""Layer file names and storage keys (spec §7.1, §7.2)."""

from __future__ import annotations

import datetime as dt

import pytest

from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.runtime.errors import InvalidArgument
from libs.storage import naming

S1_SCENE = "S1A_IW_SLC__1SDV_20190103T170631_20190103T170658_025312_02CCE8_9D2D"
UTC = dt.UTC


def make_tile(
    scene_id: str = S1_SCENE,
    tile_id: str = "A44_IW1_1561",
    aoi: str = "denmark",
    date: dt.datetime = dt.datetime(2019, 1, 3, 17, 6, 31, tzinfo=UTC),
) -> Tile:
    scene = Scene(id=1, source_id=scene_id, aoi=aoi, data=SceneAttrs(date=date))
    return Tile(id=2, source_id=tile_id, scene=scene, data=TileAttrs(swath_id="IW1", tile_nr=1561))


@pytest.mark.parametrize(
    ("layer", "ext", "expected"),
    [
        ("__product__", "zip", f"{S1_SCENE}.zip"),
        ("__product__", "", S1_SCENE),
        ("__product__", "*", S1_SCENE),
        ("__product__", "SAFE", f"{S1_SCENE}.SAFE"),
        ("__annotations__", "zip", f"{S1_SCENE}_annotations.zip"),  # the reference doubles the dot
        ("__annotations__", "", f"{S1_SCENE}_annotations"),
        ("preprocessed", "dim", "20190103_A44_IW1_1561_preprocessed.dim"),
        ("sigma0_VV", "tif", "20190103_A44_IW1_1561_sigma0_VV.tif"),
        ("coregextract", "", "20190103_A44_IW1_1561_coregextract"),
        ("*", "jp2", "20190103_A44_IW1_1561_*.jp2"),
    ],
)
def test_layer_file_name(layer: str, ext: str, expected: str) -> None:
    assert naming.layer_file_name(make_tile(), layer, ext) == expected


def test_date_is_taken_in_the_offset_it_carries() -> None:
    # 01:00 at UTC+2 is still the 3rd in UTC: the name follows the scene's own offset.
    date = dt.datetime(2019, 1, 4, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert naming.layer_file_name(make_tile(date=date), "x", "tif") == "20190104_A44_IW1_1561_x.tif"
    assert naming.tile_tag(make_tile(date=date)) == "20190104_A44_IW1_1561"


def test_zero_date_is_zero_padded() -> None:
    zero = dt.datetime(1, 1, 1, tzinfo=UTC)
    assert naming.layer_file_name(make_tile(date=zero), "x", "") == "00010101_A44_IW1_1561_x"


@pytest.mark.parametrize(
    ("ext", "zipped"),
    [("SAFE", True), ("dim", True), ("data", True), ("*", True), ("zip", False), ("tif", False), ("", False)],
)
def test_zip_stored_extensions(ext: str, zipped: bool) -> None:
    assert naming.is_zip_stored(ext) is zipped
    stored = naming.stored_file_name(make_tile(), "preprocessed", ext)
    assert stored.endswith(".zip") is (zipped or ext == "zip")


def test_product_stored_as_the_scene_zip() -> None:
    tile = make_tile()
    assert naming.stored_file_name(tile, "__product__", "*") == f"{S1_SCENE}.zip"
    assert naming.stored_file_name(tile, "__product__", "SAFE") == f"{S1_SCENE}.zip"
    assert naming.stored_file_name(tile, "preprocessed", "dim") == "20190103_A44_IW1_1561_preprocessed.zip"


def test_object_key() -> None:
    tile = make_tile()
    key = naming.object_key(tile, "20190103_A44_IW1_1561_preprocessed.zip")
    assert key == f"denmark/{S1_SCENE}/tiles/A44_IW1_1561/20190103_A44_IW1_1561_preprocessed.zip"


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "a\x00b", "x/../../y"])
def test_object_key_rejects_escaping_aoi(bad: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        naming.object_key(make_tile(aoi=bad), "f.tif")
    assert exc.value.field == "aoi"


@pytest.mark.parametrize("bad", ["", "..", "../etc", "a/b", "a\\b", "a\x00"])
def test_layer_file_name_rejects_escaping_ids(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        naming.layer_file_name(make_tile(scene_id=bad), "__product__", "zip")
    with pytest.raises(InvalidArgument):
        naming.layer_file_name(make_tile(tile_id=bad), "x", "tif")
    with pytest.raises(InvalidArgument):
        naming.object_key(make_tile(tile_id=bad), "f.tif")
    with pytest.raises(InvalidArgument):
        naming.layer_file_name(make_tile(), bad, "tif")


@pytest.mark.parametrize("bad", ["..", "x/y", "..\\x", "t\x00if"])
def test_layer_file_name_rejects_escaping_extensions(bad: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        naming.layer_file_name(make_tile(), "x", bad)
    assert exc.value.field == "extension"


def test_object_key_rejects_escaping_file_names() -> None:
    for bad in ("", "..", "a/b"):
        with pytest.raises(InvalidArgument):
            naming.object_key(make_tile(), bad)
