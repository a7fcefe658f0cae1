"""ExtractS2Bands writes Cloud-Optimized GeoTIFFs, and the COG validator (tests/support/cog.py:
rio-cogeo's cog_validate) tells a COG from other GeoTIFFs."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import shutil

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from libs.demo.archive import build_demo_archive
from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.graph import load_graph, run_graph
from libs.graph.library.python import cog, extract_s2
from libs.graph.model import Action, DType
from tests.support import cog as validator

TIMEOUT = 60
CRS = "EPSG:32632"
INDEXED = [f"B{n:02d}" for n in range(1, 13)]


def write_band(
    path: pathlib.Path, pixels: np.ndarray, pixel_size: float, driver: str = "JP2OpenJPEG"
) -> None:
    options = {"REVERSIBLE": "YES", "QUALITY": 100} if driver == "JP2OpenJPEG" else {}
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=pixels.shape[1],
        height=pixels.shape[0],
        count=1,
        dtype=pixels.dtype,
        crs=CRS,
        transform=Affine(pixel_size, 0, 499_980, 0, -pixel_size, 6_100_020),
        **options,
    ) as dataset:
        dataset.write(pixels, 1)


def texture(rows: int, cols: int, seed: int) -> np.ndarray:
    """L1C-like reflectances with a nodata (0) corner, as at the edge of an orbit's swath."""
    pixels = np.random.default_rng(seed).normal(1200, 300, (rows, cols)).clip(1, 65534).astype("uint16")
    pixels[: rows // 4, : cols // 3] = 0
    return pixels


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, np.ndarray]]:
    """A real-layout .SAFE (manifest, MTD_MSIL1C.xml with NODATA=0, MTD_TL.xml) whose 10 m and 20 m
    bands are replaced by the test's at their relative resolutions (1098, 549 and 183 pixels), without
    the nodata sidecars: the nodata must come from the product metadata."""
    root = tmp_path_factory.mktemp("safe")
    (source_id,) = build_demo_archive(root, count=1, band_size=183, zipped=False)
    img_data = next(root.glob(f"{source_id}.SAFE/GRANULE/*/IMG_DATA"))
    for sidecar in img_data.glob("*.aux.xml"):
        sidecar.unlink()
    written = {"B04": texture(1098, 1098, 4), "B05": texture(549, 549, 5), "B01": texture(183, 183, 1)}
    for band, pixels in written.items():
        (path,) = img_data.glob(f"*_{band}.jp2")
        write_band(path, pixels, 109_800 / pixels.shape[0])
    return root / f"{source_id}.SAFE", written


def s2_tile(source_id: str) -> Tile:
    scene = Scene(
        id=1, source_id=source_id, aoi="a", data=SceneAttrs(date=dt.datetime(2022, 1, 2, 10, tzinfo=dt.UTC))
    )
    return Tile(id=1, source_id=source_id, scene=scene, data=TileAttrs())


async def test_extract_s2_bands_writes_valid_cogs(
    product: tuple[pathlib.Path, dict[str, np.ndarray]], tmp_path: pathlib.Path
) -> None:
    safe, written = product
    shutil.copytree(safe, tmp_path / safe.name)
    tile = s2_tile(safe.stem)
    graph = load_graph("library/graph/ExtractS2Bands.json", [], retriable=True)
    result = await asyncio.wait_for(run_graph(graph, None, [tile, tile, tile], tmp_path), TIMEOUT)
    assert result.error is None

    prefix = f"20220102_{safe.stem}"
    assert sorted(p.name for p in tmp_path.glob("*.tif")) == sorted(
        f"{prefix}_{band}.tif" for band in [*INDEXED, "B8A"]
    )
    for band in [*INDEXED, "B8A"]:
        report = validator.assert_cog(tmp_path / f"{prefix}_{band}.tif")
        assert report.ghost["LAYOUT"] == "IFDS_BEFORE_DATA"
    for band, pixels in written.items():
        size = pixels.shape[0]
        with rasterio.open(tmp_path / f"{prefix}_{band}.tif") as cog_file:
            assert (cog_file.width, cog_file.height, cog_file.dtypes) == (size, size, ("uint16",))
            assert cog_file.nodata == 0  # from MTD_MSIL1C.xml's NODATA special value
            assert cog_file.crs.to_epsg() == 32632
            assert cog_file.transform == Affine(109_800 / size, 0, 499_980, 0, -109_800 / size, 6_100_020)
            assert cog_file.descriptions == (band,)
            assert cog_file.compression is not None and cog_file.compression.name == "deflate"
            assert cog_file.block_shapes == [(512, 512)]
            np.testing.assert_array_equal(cog_file.read(1), pixels)  # lossless
            # Overviews down to one tile; the nodata corner stays nodata in them (AVERAGE skips it).
            assert cog_file.overviews(1) == {1098: [2, 4], 549: [2], 183: []}[size]
            if size > 512:
                overview = cog_file.read(1, out_shape=(size // 2, size // 2))
                assert overview[0, 0] == 0 and overview[-1, -1] > 0

    selected = [f for _, f in result.out_files]
    assert [(f.layer, f.extension) for f in selected] == [(b, "tif") for b in INDEXED] + [
        ("__product__", "SAFE")
    ]
    assert all(f.action is Action.TO_INDEX and f.datatype is DType.UINT16 for f in selected[:-1])
    assert (selected[0].ext_min_value, selected[0].ext_max_value, selected[0].max_value) == (0, 1, 32767)


def test_compression_is_a_graph_setting(
    product: tuple[pathlib.Path, dict[str, np.ndarray]], tmp_path: pathlib.Path
) -> None:
    safe, _ = product
    shutil.copytree(safe, tmp_path / safe.name)
    (target,) = (p for p in extract_s2.extract(tmp_path, "x_*.tif", "ZSTD") if p.name == "x_B05.tif")
    validator.assert_cog(target)
    with rasterio.open(target) as cog_file:
        assert cog_file.compression is not None and cog_file.compression.name == "zstd"
    assert extract_s2.main([f"--workdir={tmp_path}", "--pattern-out=x_*.tif", "--compress=JPEG2000"]) == 1
    assert not list(tmp_path.glob(".*"))  # no partial file left behind


def test_a_jp2_pattern_copies_the_bands_as_the_reference_does(
    product: tuple[pathlib.Path, dict[str, np.ndarray]], tmp_path: pathlib.Path
) -> None:
    safe, _ = product
    shutil.copytree(safe, tmp_path / safe.name)
    assert extract_s2.main([f"--workdir={tmp_path}", "--pattern-out=x_*.jp2"]) == 0
    (source,) = (tmp_path / safe.name).glob("GRANULE/*/IMG_DATA/*_B04.jp2")
    assert (tmp_path / "x_B04.jp2").read_bytes() == source.read_bytes()
    assert extract_s2.main([f"--workdir={tmp_path}", "--pattern-out=x_*.png"]) == 1


def _pixels(size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(1, 4000, (1, size, size), dtype="uint16")


def test_the_validator_rejects_a_striped_geotiff(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "striped.tif"
    write_band(path, _pixels(1100)[0], 10, driver="GTiff")  # GDAL's default: strips, no overviews
    report = validator.validate(path)
    assert report.errors == ["The file is greater than 512xH or 512xW, but is not tiled"]
    assert report.warnings == [
        "The file is greater than 512xH or 512xW, it is recommended to include internal overviews"
    ]
    with pytest.raises(AssertionError, match="not tiled"):
        validator.assert_cog(path)


def test_the_validator_rejects_what_is_not_a_geotiff(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "band.jp2"
    write_band(path, _pixels(600)[0], 10)  # JPEG 2000, as in a .SAFE
    assert validator.validate(path).errors == ["The file is not a GeoTIFF"]
    with pytest.raises(AssertionError, match="not a GeoTIFF"):
        validator.assert_cog(path)


def _tiled(path: pathlib.Path) -> None:
    with rasterio.open(
        path, "w", driver="GTiff", width=1100, height=1100, count=1, dtype="uint16", tiled=True,
        blockxsize=512, blockysize=512, crs=CRS, transform=Affine(10, 0, 0, 0, -10, 0),
    ) as dataset:  # fmt: skip
        dataset.write(_pixels(1100))


def test_the_validator_rejects_overviews_added_after_the_data(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tiled.tif"
    _tiled(path)
    with rasterio.open(path, "r+") as dataset:
        dataset.build_overviews([2, 4])  # appended: overviews' data after the full resolution's
    first, second = validator.validate(path).errors
    assert "first block of overview of index 0 should be after the one of the overview of index 1" in first
    assert "first block of the main resolution image should be after the one of the overview of index 1" in second


def test_the_validator_rejects_external_overviews(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tiled.tif"
    _tiled(path)
    with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(path, "r+") as dataset:
        dataset.build_overviews([2, 4])  # into tiled.tif.ovr
    assert (tmp_path / "tiled.tif.ovr").exists()
    errors = validator.validate(path).errors
    assert "Overviews found in external .ovr file. They should be internal" in errors


def test_the_validator_accepts_our_cog_and_rejects_it_once_edited(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "source.tif"
    write_band(source, _pixels(600)[0], 10, driver="GTiff")
    good = tmp_path / "good.tif"
    cog.write_cog(source, good)
    report = validator.assert_cog(good)
    assert report.overview_sizes == [(300, 300)]
    assert report.ghost["KNOWN_INCOMPATIBLE_EDITION"] == "NO"
    assert not list(tmp_path.glob(".*"))  # written under a temporary name, then renamed

    # Rewriting a tile in place appends it at the end of the file, out of order, and GDAL flags the file.
    edited = tmp_path / "edited.tif"
    shutil.copy(good, edited)
    with rasterio.open(edited, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dataset:
        dataset.write(_pixels(512)[0] + 1, 1, window=rasterio.windows.Window(0, 0, 512, 512))
    report = validator.validate(edited)
    assert report.ghost["KNOWN_INCOMPATIBLE_EDITION"] == "YES"
    (error,) = report.errors
    assert "optimizations in its layout, but those have been, at least partly, invalidated" in error


def test_a_non_numeric_nodata_in_the_metadata_is_a_fatal_error(
    product: tuple[pathlib.Path, dict[str, np.ndarray]], tmp_path: pathlib.Path
) -> None:
    safe, _ = product
    copy = tmp_path / safe.name
    shutil.copytree(safe, copy)
    (mtd,) = copy.glob("MTD_MSI*.xml")
    text = mtd.read_text()
    assert "<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>" in text
    mtd.write_text(
        text.replace(
            "<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>",
            "<SPECIAL_VALUE_INDEX>zero</SPECIAL_VALUE_INDEX>",
            1,
        )
    )
    with pytest.raises(extract_s2.FatalError, match="NODATA special value 'zero' is not a number"):
        extract_s2.product_nodata(copy)
