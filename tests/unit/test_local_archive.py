"""The local archive scene source, on real Sentinel-2 and Landsat metadata (shared/fixtures/realdata)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import pathlib
import shutil
import zipfile

import pytest
import shapely

from services.catalogue import payload
from services.catalogue.search.local_archive import LocalArchive
from libs.demo import build_demo_archive
from libs.domain.models import Area
from libs.runtime.errors import InvalidArgument

REALDATA = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "realdata"
S2_46RER = "S2A_MSIL1C_20210908T042701_N0301_R133_T46RER_20210908T070248"
S2_01LAC_FOLDER = "S2A_MSIL1C_20200717T221941_R029_T01LAC_20200717T234135"
S2_01LAC = "S2A_MSIL1C_20200717T221941_N0209_R029_T01LAC_20200717T234135"  # its PRODUCT_URI
L8 = "LC08_L2SP_047027_20201204_20210313_02_T1"
L9 = "LC09_L2SP_010065_20220129_20220131_02_T1"

WORLD = "POLYGON ((-180 -90, 180 -90, 180 90, -180 90, -180 -90))"
NEAR_46RER = "POLYGON ((93.1 27.3, 93.2 27.3, 93.2 27.5, 93.1 27.5, 93.1 27.3))"
NEAR_L8 = "POLYGON ((-123 47, -122.5 47, -122.5 47.5, -123 47.5, -123 47))"
EAST_OF_ANTIMERIDIAN = "POLYGON ((-179.9 -16, -179.8 -16, -179.8 -15.6, -179.9 -15.6, -179.9 -16))"


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=dt.UTC)


def _area(wkt: str = WORLD, constellation: str = "sentinel2", **changes: object) -> payload.ValidArea:
    """A search payload as the catalogue hands it to its sources: validated (its refusals are tested in
    tests/unit/test_payload.py)."""
    area = Area(name="test", geometry_wkt=wkt, start_time=_utc(2000, 1, 1), end_time=_utc(2030, 1, 1),
                constellation=constellation)  # fmt: skip
    return payload.for_search(dataclasses.replace(area, **changes))  # type: ignore[arg-type]


def _copy_s2(root: pathlib.Path, folder: str) -> pathlib.Path:
    target = root / folder
    shutil.copytree(REALDATA / "sentinel2" / folder, target)
    return target


def _copy_landsat(root: pathlib.Path, product: str) -> pathlib.Path:
    target = root / product
    target.mkdir(parents=True)
    for mtl in (REALDATA / "landsat").glob(f"{product}_MTL.*"):
        shutil.copy(mtl, target / mtl.name)
    return target


def _zip_folder(folder: pathlib.Path, target: pathlib.Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder.parent).as_posix())


@pytest.fixture
def real_root(tmp_path: pathlib.Path) -> pathlib.Path:
    """Both S2 fixtures (one nested in a sub-folder) and both Landsat ones."""
    root = tmp_path / "archive"
    _copy_s2(root, f"{S2_46RER}.SAFE")
    _copy_s2(root / "2020" / "07", f"{S2_01LAC_FOLDER}.SAFE")
    _copy_landsat(root / "landsat", L8)
    _copy_landsat(root / "landsat", L9)
    return root


@pytest.fixture
def archive(real_root: pathlib.Path) -> LocalArchive:
    archive = LocalArchive(real_root)
    stats = archive.scan()
    assert (stats.indexed, stats.skipped) == (4, 0)
    return archive


def test_sentinel2_scene_like_copernicus(archive: LocalArchive, real_root: pathlib.Path) -> None:
    scenes, has_next = archive.search(_area(NEAR_46RER))
    assert [s.source_id for s in scenes] == [S2_46RER] and has_next is False
    scene = scenes[0]
    assert scene.data.date == _utc(2021, 9, 8, 4, 27, 1, 24000)
    assert scene.data.tiles == {}
    uuid = scene.tags["uuid"]
    assert scene.data.metadata == {"uuid": uuid, "download_link": f"file://{real_root}/{S2_46RER}.SAFE"}
    assert scene.tags == {
        "sourceID": S2_46RER, "uuid": uuid, "ingestionDate": "2021-09-08T04:27:01.024Z",
        "orbitDirection": "DESCENDING", "relativeOrbit": "133", "orbit": "32448", "productType": "S2MSI1C",
        "cloudCoverPercentage": "88.2972", "constellation": "SENTINEL2", "satellite": "SENTINEL2A",
    }  # fmt: skip
    footprint = shapely.from_wkt(scene.wkt)
    assert footprint.geom_type == "Polygon"
    assert footprint.bounds == pytest.approx((92.999797, 27.033538, 93.433418, 28.025436), abs=1e-6)


def test_uuid_is_deterministic(real_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    first = LocalArchive(real_root)
    first.scan()
    other_root = tmp_path / "elsewhere"
    _copy_s2(other_root, f"{S2_46RER}.SAFE")
    second = LocalArchive(other_root)
    second.scan()
    one, two = first.find(S2_46RER), second.find(S2_46RER)
    assert one is not None and two is not None
    assert one.uuid == two.uuid and one.tags["uuid"] == one.uuid


def test_landsat_scene_like_landsat_aws(archive: LocalArchive, real_root: pathlib.Path) -> None:
    scenes, _ = archive.search(_area(NEAR_L8, "landsat89"))
    assert [s.source_id for s in scenes] == [L8]
    scene = scenes[0]
    assert scene.data.date == _utc(2020, 12, 4, 19, 2, 11, 194486)
    assert scene.tags == {
        "sourceID": L8, "productType": "LC_C02_L2SP", "cloudCoverPercentage": "1.55",
        "landCloudCoverPercentage": "1.9", "ingestionDate": "2020-12-04T19:02:11.194486Z",
        "sunAzimuth": "164.91405951", "sunElevation": "18.80722985",
        "constellation": "LANDSAT", "satellite": "LANDSAT08",
    }  # fmt: skip
    assert scene.data.metadata is not None
    assert scene.data.metadata["download_link"] == f"file://{real_root}/landsat/{L8}"
    # The Landsat 9 MTL exists only as ODL text: same reader result shape.
    l9 = archive.find(L9)
    assert (
        l9 is not None and l9.tags["satellite"] == "LANDSAT09" and l9.tags["cloudCoverPercentage"] == "21.12"
    )


def test_landsat_odl_and_xml_agree(tmp_path: pathlib.Path) -> None:
    (tmp_path / "xml").mkdir()
    (tmp_path / "txt").mkdir()
    shutil.copy(REALDATA / "landsat" / f"{L8}_MTL.xml", tmp_path / "xml")
    shutil.copy(REALDATA / "landsat" / f"{L8}_MTL.txt", tmp_path / "txt")
    from_xml, from_txt = LocalArchive(tmp_path / "xml"), LocalArchive(tmp_path / "txt")
    from_xml.scan()
    from_txt.scan()
    a, b = from_xml.find(L8), from_txt.find(L8)
    assert a is not None and b is not None
    assert (a.tags, a.date, a.wkt) == (b.tags, b.date, b.wkt)


def test_source_id_comes_from_product_uri(archive: LocalArchive, caplog: pytest.LogCaptureFixture) -> None:
    # The 01LAC fixture folder lacks the baseline; the product is known by its real name.
    product = archive.find(S2_01LAC)
    assert product is not None and product.path.name == f"{S2_01LAC_FOLDER}.SAFE"
    assert archive.find(S2_01LAC_FOLDER) is None


def test_antimeridian_footprint(archive: LocalArchive) -> None:
    product = archive.find(S2_01LAC)
    assert product is not None and product.footprint.geom_type == "MultiPolygon"
    assert [s.source_id for s in archive.search(_area(EAST_OF_ANTIMERIDIAN))[0]] == [S2_01LAC]
    assert archive.search(_area("POLYGON ((0 -16, 1 -16, 1 -15, 0 -15, 0 -16))"))[0] == []


def test_constellation_filter(archive: LocalArchive) -> None:
    assert [s.source_id for s in archive.search(_area(WORLD, "Sentinel-2"))[0]] == [S2_01LAC, S2_46RER]
    assert [s.source_id for s in archive.search(_area(WORLD, "LC08"))[0]] == [L8, L9]
    assert archive.search(_area(WORLD, "sentinel1"))[0] == []


def test_time_filter_is_inclusive(archive: LocalArchive) -> None:
    date = _utc(2021, 9, 8, 4, 27, 1, 24000)
    assert [s.source_id for s in archive.search(_area(start_time=date, end_time=date))[0]] == [S2_46RER]
    assert archive.search(_area(start_time=date + dt.timedelta(microseconds=1)))[0] == []
    before = _area(end_time=date - dt.timedelta(microseconds=1))
    assert [s.source_id for s in archive.search(before)[0]] == [S2_01LAC]
    later = _area(start_time=_utc(2021, 9, 9), end_time=_utc(2022, 1, 1))
    assert archive.search(later)[0] == []
    only_2020 = _area(start_time=_utc(2020, 1, 1), end_time=_utc(2020, 12, 31))
    assert [s.source_id for s in archive.search(only_2020)[0]] == [S2_01LAC]


def test_cloud_cover_filter(archive: LocalArchive) -> None:
    def ids(value: str) -> list[str]:
        return [s.source_id for s in archive.search(_area(parameters={"cloudcoverpercentage": value}))[0]]

    assert ids("[0 TO 80]") == [S2_01LAC]  # 46RER is 88.2972 % cloudy
    assert ids("[80 TO 100]") == [S2_46RER]
    assert ids("[5.4828 TO 88.2972]") == [S2_01LAC, S2_46RER]
    for bad in ("0 TO 80", "[0 80]", "[low TO 80]", ""):
        with pytest.raises(InvalidArgument) as error:
            archive.search(_area(parameters={"CloudCoverPercentage": bad}))
        assert error.value.field == "scene_type.parameters.cloudcoverpercentage"


def test_other_parameters(archive: LocalArchive, caplog: pytest.LogCaptureFixture) -> None:
    def ids(constellation: str = "sentinel2", **parameters: str) -> list[str]:
        return [s.source_id for s in archive.search(_area(WORLD, constellation, parameters=parameters))[0]]

    assert ids(producttype="S2MSI1C") == [S2_01LAC, S2_46RER]
    assert ids(producttype="S2MSI2A") == []
    assert ids("landsat89", producttype="LC_C02_L2SP") == [L8, L9]
    assert ids(relativeorbitnumber="133") == [S2_46RER]
    with pytest.raises(InvalidArgument, match="relativeorbitnumber"):
        ids(relativeorbitnumber="R133")
    assert ids(platformname="SENTINEL-2") == [S2_01LAC, S2_46RER]
    assert ids(platformname="Sentinel-2A") == [S2_01LAC, S2_46RER]
    assert ids(platformname="Sentinel-2B") == []
    assert ids("landsat89", platformname="LANDSAT_9") == [L9]
    assert ids(filename="*T46RER*") == [S2_46RER]
    with caplog.at_level(logging.WARNING):
        assert ids(polarisationmode="VV VH") == [S2_01LAC, S2_46RER]
    assert any("polarisationmode" in record.getMessage() for record in caplog.records)


def test_paging(archive: LocalArchive) -> None:
    def page(number: int, limit: int) -> tuple[list[str], bool]:
        scenes, has_next = archive.search(_area(WORLD, "landsat89", page=number, limit=limit))
        return [s.source_id for s in scenes], has_next

    assert page(0, 0) == ([L8, L9], False)
    assert page(0, 1) == ([L8], True)
    assert page(1, 1) == ([L9], False)
    assert page(2, 1) == ([], False)
    assert page(0, 2) == ([L8, L9], False)
    with pytest.raises(InvalidArgument):
        page(-1, 1)


def test_paging_many_products(tmp_path: pathlib.Path) -> None:
    ids = build_demo_archive(tmp_path, count=10, band_size=4)
    archive = LocalArchive(tmp_path)
    archive.scan()
    window = {"start_time": _utc(2022, 1, 1), "end_time": _utc(2022, 1, 13)}
    everything = [s.source_id for s in archive.search(_area(WORLD, **window))[0]]
    assert sorted(everything) == sorted(ids)
    dates = [archive.find(i).date for i in everything]  # type: ignore[union-attr]
    assert dates == sorted(dates)  # by date, then source id
    pages = []
    for number in range(4):
        scenes, has_next = archive.search(_area(WORLD, **window, page=number, limit=3))
        pages.append(([s.source_id for s in scenes], has_next))
    assert [has_next for _, has_next in pages] == [True, True, True, False]
    assert [i for chunk, _ in pages for i in chunk] == everything


def test_unreadable_products_are_skipped(real_root: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = real_root / "S2B_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507.SAFE"
    broken.mkdir()
    (broken / "MTD_MSIL1C.xml").write_text("<n1:Level-1C_User_Product><truncated")
    not_a_zip = real_root / "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507.zip"
    not_a_zip.write_bytes(b"PK\x03\x04 definitely not a zip")
    empty_safe = real_root / "empty.SAFE"
    empty_safe.mkdir()
    archive = LocalArchive(real_root)
    with caplog.at_level(logging.WARNING):
        stats = archive.scan()
    assert (stats.indexed, stats.skipped) == (4, 3)
    messages = " ".join(record.getMessage() for record in caplog.records)
    for path in (broken, not_a_zip, empty_safe):
        assert str(path) in messages
    # Unchanged unreadable products are not read (nor reported) again.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert archive.scan().parsed == 0
    assert not caplog.records


def test_zip_and_folder_give_the_same_scene(tmp_path: pathlib.Path) -> None:
    folder_root, zip_root = tmp_path / "folders", tmp_path / "zips"
    safe = _copy_s2(folder_root, f"{S2_46RER}.SAFE")
    zip_root.mkdir()
    _zip_folder(safe, zip_root / f"{S2_46RER}.zip")
    from_folder, from_zip = LocalArchive(folder_root), LocalArchive(zip_root)
    from_folder.scan()
    from_zip.scan()
    (a,), _ = from_folder.search(_area(NEAR_46RER))
    (b,), _ = from_zip.search(_area(NEAR_46RER))
    assert (
        b.data.metadata is not None
        and b.data.metadata["download_link"] == f"file://{zip_root}/{S2_46RER}.zip"
    )
    assert a.data.metadata is not None
    a.data.metadata.pop("download_link")
    b.data.metadata.pop("download_link")
    assert a == b


def test_rescan_is_incremental(real_root: pathlib.Path) -> None:
    archive = LocalArchive(real_root)
    assert archive.scan().parsed == 4
    assert archive.scan().parsed == 0
    mtd = real_root / f"{S2_46RER}.SAFE" / "MTD_MSIL1C.xml"
    mtd.write_bytes(mtd.read_bytes().replace(b"88.2972", b"12.5"))
    os.utime(mtd, ns=(0, 1_000_000_000))  # an mtime no earlier scan saw, whatever the clock resolution
    stats = archive.scan()
    assert (stats.parsed, stats.indexed) == (1, 4)
    product = archive.find(S2_46RER)
    assert product is not None and product.tags["cloudCoverPercentage"] == "12.5"
    shutil.rmtree(real_root / "landsat" / L9)
    stats = archive.scan()
    assert (stats.removed, stats.indexed) == (1, 3)
    assert archive.find(L9) is None
    assert [s.source_id for s in archive.search(_area(WORLD, "landsat89"))[0]] == [L8]


def test_duplicate_products_keep_one(real_root: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    _zip_folder(real_root / f"{S2_46RER}.SAFE", real_root / f"{S2_46RER}.zip")
    archive = LocalArchive(real_root)
    with caplog.at_level(logging.WARNING):
        assert archive.scan().indexed == 4
    assert any(S2_46RER in record.getMessage() for record in caplog.records)
    assert len(archive.search(_area(NEAR_46RER))[0]) == 1


def test_returned_scenes_are_copies(archive: LocalArchive) -> None:
    (scene,), _ = archive.search(_area(NEAR_46RER))
    scene.tags["area"] = "mutated"
    (again,), _ = archive.search(_area(NEAR_46RER))
    assert "area" not in again.tags


def test_empty_archive(tmp_path: pathlib.Path) -> None:
    archive = LocalArchive(tmp_path / "missing")
    assert archive.scan().indexed == 0
    assert archive.search(_area()) == ([], False)
