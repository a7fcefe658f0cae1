"""The demo archive: real SAFE layout, found by the local archive with the DenmarkDemoS2 payload."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pathlib
import re
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
import rasterio
import shapely
import shapely.geometry

from services.catalogue import payload
from services.catalogue.search.local_archive import LocalArchive
from libs.demo import build_demo_archive
from libs.domain import products
from libs.domain.models import Area

PAYLOAD = (
    pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference" / "DenmarkDemoS2.json"
)
EXAMPLE_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
S2_NAME = re.compile(r"^S2[AB]_MSIL1C_\d{8}T\d{6}_N0301_R\d{3}_T32UN[FG]_\d{8}T\d{6}$")


def _payload_area() -> Area:
    payload = json.loads(PAYLOAD.read_text())
    return Area(
        name=payload["name"],
        geometry_wkt=shapely.geometry.shape(payload["geometry"]).wkt,
        start_time=dt.datetime.fromisoformat(payload["start_time"]),
        end_time=dt.datetime.fromisoformat(payload["end_time"]),
        constellation=payload["scene_type"]["constellation"],
        parameters=payload["scene_type"]["parameters"],
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[str]]:
    root = tmp_path_factory.mktemp("demo")
    return root, build_demo_archive(root, count=4, band_size=32)


def test_ids_follow_the_naming(demo: tuple[pathlib.Path, list[str]]) -> None:
    root, ids = demo
    assert EXAMPLE_ID in ids
    assert len(set(ids)) == 4
    days = []
    for source_id in ids:
        assert S2_NAME.match(source_id) and len(source_id) == 60
        info = products.product_info(source_id)
        assert (info["TILE"], info["PDGS"], info["PRODUCT_LEVEL"]) == ("T32UNF", "0301", "L1C")
        days.append(products.date_from_product_id(source_id).day)
        assert (root / f"{source_id}.zip").is_file()
    assert days == [2, 4, 7, 9]


def test_found_with_the_denmark_payload(demo: tuple[pathlib.Path, list[str]]) -> None:
    root, ids = demo
    archive = LocalArchive(root)
    assert archive.scan().indexed == 4
    area = _payload_area()
    scenes, has_next = archive.search(payload.for_search(area))
    assert [s.source_id for s in scenes] == ids and has_next is False
    aoi = shapely.from_wkt(area.geometry_wkt)
    for scene in scenes:
        assert area.start_time <= scene.data.date <= area.end_time
        assert shapely.from_wkt(scene.wkt).intersects(aoi)
        assert 0 <= float(scene.tags["cloudCoverPercentage"]) <= 80
        assert scene.tags["productType"] == "S2MSI1C" and scene.tags["orbitDirection"] == "DESCENDING"
        # Relative orbit and satellite agree with the name; the absolute orbit is consistent with both.
        assert int(scene.tags["relativeOrbit"]) == int(scene.source_id[34:37])
        offset = 2 if scene.source_id.startswith("S2A") else -27
        assert (int(scene.tags["orbit"]) + offset) % 143 + 1 == int(scene.tags["relativeOrbit"])


def test_safe_layout_and_manifest(demo: tuple[pathlib.Path, list[str]]) -> None:
    root, _ = demo
    with zipfile.ZipFile(root / f"{EXAMPLE_ID}.zip") as archive:
        names = archive.namelist()
        assert all(name.startswith(f"{EXAMPLE_ID}.SAFE/") for name in names)
        safe = f"{EXAMPLE_ID}.SAFE/"
        granules = {name.split("/")[2] for name in names if name.startswith(safe + "GRANULE/")}
        assert granules == {"L1C_T32UNF_A034139_20220104T103421"}
        image_dir = f"{safe}GRANULE/L1C_T32UNF_A034139_20220104T103421/IMG_DATA/"
        for band in BANDS:
            assert f"{image_dir}T32UNF_20220104T103421_{band}.jp2" in names
        mtd = ElementTree.fromstring(archive.read(safe + "MTD_MSIL1C.xml"))
        assert mtd.findtext(".//PRODUCT_URI") == f"{EXAMPLE_ID}.SAFE"
        assert mtd.findtext(".//PRODUCT_START_TIME") == "2022-01-04T10:34:21.024Z"
        assert len(mtd.findall(".//IMAGE_FILE")) == 13
        ElementTree.fromstring(archive.read(f"{safe}GRANULE/L1C_T32UNF_A034139_20220104T103421/MTD_TL.xml"))
        # Every file but the manifest itself is listed with its size and SHA3-256, as ESA does.
        manifest = ElementTree.fromstring(archive.read(safe + "manifest.safe"))
        listed = 0
        for stream in manifest.iter("byteStream"):
            href = stream.find("fileLocation").attrib["href"]  # type: ignore[union-attr]
            data = archive.read(safe + href.removeprefix("./"))
            assert int(stream.attrib["size"]) == len(data)
            assert stream.findtext("checksum") == hashlib.sha3_256(data).hexdigest()
            listed += 1
        assert listed == len(names) - 1


def test_bands_are_georeferenced_jp2(demo: tuple[pathlib.Path, list[str]]) -> None:
    root, _ = demo
    zip_path = root / f"{EXAMPLE_ID}.zip"
    image_dir = f"{EXAMPLE_ID}.SAFE/GRANULE/L1C_T32UNF_A034139_20220104T103421/IMG_DATA"
    for band in BANDS:
        with rasterio.open(f"/vsizip/{zip_path}/{image_dir}/T32UNF_20220104T103421_{band}.jp2") as dataset:
            assert dataset.driver == "JP2OpenJPEG"
            assert dataset.crs.to_epsg() == 32632
            assert dataset.dtypes == ("uint16",)
            assert dataset.nodata == 0
            assert (dataset.width, dataset.height) == (32, 32)
            assert tuple(dataset.bounds) == pytest.approx((499980, 5990220, 609780, 6100020))
            pixels = dataset.read(1)
        assert pixels.min() >= 1 and pixels.max() <= 10000  # valid L1C reflectances, no nodata inside


def test_plausible_reflectances(demo: tuple[pathlib.Path, list[str]]) -> None:
    root, _ = demo
    image_dir = f"{EXAMPLE_ID}.SAFE/GRANULE/L1C_T32UNF_A034139_20220104T103421/IMG_DATA"

    def read(band: str) -> np.ndarray:
        path = f"/vsizip/{root / EXAMPLE_ID}.zip/{image_dir}/T32UNF_20220104T103421_{band}.jp2"
        with rasterio.open(path) as dataset:
            return dataset.read(1).astype(float)

    # Water is dark in the near infrared, land bright: both must be present somewhere on the tile.
    nir = read("B08")
    assert nir.min() < 500 and nir.max() > 1800
    assert read("B10").mean() < read("B02").mean()  # the cirrus band is the darkest


def test_unzipped_folders_give_the_same_scenes(
    demo: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    zipped_root, ids = demo
    assert build_demo_archive(tmp_path, count=4, band_size=32, zipped=False) == ids
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{i}.SAFE" for i in ids)
    with rasterio.open(next(tmp_path.glob(f"{EXAMPLE_ID}.SAFE/GRANULE/*/IMG_DATA/*_B04.jp2"))) as dataset:
        assert dataset.nodata == 0 and dataset.crs.to_epsg() == 32632
    folders, zips = LocalArchive(tmp_path), LocalArchive(zipped_root)
    folders.scan()
    zips.scan()
    for source_id in ids:
        a, b = folders.find(source_id), zips.find(source_id)
        assert a is not None and b is not None
        assert (a.tags, a.date, a.wkt) == (b.tags, b.date, b.wkt)


def test_deterministic(tmp_path: pathlib.Path) -> None:
    first = build_demo_archive(tmp_path / "a", count=2, band_size=8, seed=3)
    second = build_demo_archive(tmp_path / "b", count=2, band_size=8, seed=3)
    assert first == second
    for source_id in first:
        assert (tmp_path / "a" / f"{source_id}.zip").read_bytes() == (
            tmp_path / "b" / f"{source_id}.zip"
        ).read_bytes()
    build_demo_archive(tmp_path / "c", count=2, band_size=8, seed=4)
    assert (tmp_path / "a" / f"{first[0]}.zip").read_bytes() != (
        tmp_path / "c" / f"{first[0]}.zip"
    ).read_bytes()


def test_many_products_stay_in_the_period_and_area(tmp_path: pathlib.Path) -> None:
    ids = build_demo_archive(tmp_path / "many", count=40, band_size=4)
    assert len(set(ids)) == 40
    assert ids[:4] == build_demo_archive(tmp_path / "four", count=4, band_size=4)
    assert {products.product_info(i)["TILE"] for i in ids} == {"T32UNF", "T32UNG"}
    archive = LocalArchive(tmp_path / "many")
    archive.scan()
    scenes, _ = archive.search(payload.for_search(_payload_area()))
    assert sorted(s.source_id for s in scenes) == sorted(ids)
    # The catalogue de-duplicates on the AutoFill ProductName: every demo product must survive it.
    assert len({products.autofill_tags(i)[1] for i in ids}) == 40
