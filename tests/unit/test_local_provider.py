"""The local-directory provider (spec §8.2 row 1) and its unarchiving."""

from __future__ import annotations

import pathlib
import shutil
import zipfile

import pytest

from libs.demo import build_demo_archive
from services.downloader.providers.local import LocalProvider, unarchive
from libs.runtime.errors import FailedPrecondition, NotFound

REALDATA = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "realdata"
S2_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
L8 = "LC08_L2SP_047027_20201204_20210313_02_T1"
S2_LEGACY = "S2A_OPER_PRD_MSIL1C_PDMC_20160128T143531_R008_V20160126T103342_20160126T103342"


def _files(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def demo_zips(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("zips")
    build_demo_archive(root, count=2, band_size=8)
    return root


@pytest.fixture(scope="module")
def demo_folders(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("folders")
    build_demo_archive(root, count=2, band_size=8, zipped=False)
    return root


def test_flat_zip_is_unarchived(
    demo_zips: pathlib.Path, demo_folders: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    LocalProvider(demo_zips).fetch(S2_ID, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"{S2_ID}.SAFE"]
    assert _files(tmp_path / f"{S2_ID}.SAFE") == _files(demo_folders / f"{S2_ID}.SAFE")


def test_dated_zip(demo_zips: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "root"
    (root / "2022" / "01" / "04").mkdir(parents=True)
    shutil.copy(demo_zips / f"{S2_ID}.zip", root / "2022" / "01" / "04")
    provider = LocalProvider(root)
    assert provider.locate(S2_ID) == root / "2022" / "01" / "04" / f"{S2_ID}.zip"
    workdir = tmp_path / "work"
    provider.fetch(S2_ID, workdir)
    assert (workdir / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").is_file()
    assert not any(p.name.startswith(".unarchive") for p in workdir.iterdir())


def test_unzipped_safe_folder_is_copied(demo_folders: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "root" / "nested" / "deeper"
    shutil.copytree(demo_folders / f"{S2_ID}.SAFE", root / f"{S2_ID}.SAFE")
    workdir = tmp_path / "work"
    LocalProvider(tmp_path / "root").fetch(S2_ID, workdir)
    assert _files(workdir / f"{S2_ID}.SAFE") == _files(root / f"{S2_ID}.SAFE")
    # A copy, not a link: the scene graph may delete its input without touching the archive.
    shutil.rmtree(workdir / f"{S2_ID}.SAFE")
    assert (root / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").is_file()


def test_landsat_folder_is_copied(tmp_path: pathlib.Path) -> None:
    product = tmp_path / "root" / "landsat" / L8
    product.mkdir(parents=True)
    for mtl in (REALDATA / "landsat").glob(f"{L8}_MTL.*"):
        shutil.copy(mtl, product)
    workdir = tmp_path / "work"
    LocalProvider(tmp_path / "root").fetch(L8, workdir)
    assert sorted(p.name for p in (workdir / L8).iterdir()) == [f"{L8}_MTL.txt", f"{L8}_MTL.xml"]


def test_folder_without_metadata_is_not_a_landsat_product(tmp_path: pathlib.Path) -> None:
    (tmp_path / "root" / L8).mkdir(parents=True)
    with pytest.raises(NotFound):
        LocalProvider(tmp_path / "root").locate(L8)


def test_missing_product_names_the_paths_tried(tmp_path: pathlib.Path) -> None:
    with pytest.raises(NotFound) as error:
        LocalProvider(tmp_path).fetch(S2_ID, tmp_path / "work")
    message = str(error.value)
    assert message.startswith("Product not found or unavailable: ")
    assert str(tmp_path / "2022" / "01" / "04" / f"{S2_ID}.zip") in message
    assert str(tmp_path / f"{S2_ID}.zip") in message


def test_undated_id_uses_the_flat_path_only(tmp_path: pathlib.Path) -> None:
    with pytest.raises(NotFound) as error:
        LocalProvider(tmp_path).locate(S2_LEGACY)
    assert f"{tmp_path}/{S2_LEGACY}.zip" in str(error.value)
    assert "/2016/" not in str(error.value)


def test_unsupported_constellation(tmp_path: pathlib.Path) -> None:
    with pytest.raises(NotFound, match=r"^LocalImageProvider: Info: constellation not supported$"):
        LocalProvider(tmp_path).locate("unknown-product")
    for bad in ("", "..", "a/b"):
        with pytest.raises(NotFound):
            LocalProvider(tmp_path).locate(bad)


def test_zip_slip_is_refused(tmp_path: pathlib.Path) -> None:
    for evil in ("../escape.txt", "/abs/escape.txt", "ok/../../escape.txt", "C:/escape.txt"):
        archive_path = tmp_path / "evil.zip"
        with zipfile.ZipFile(archive_path, "w") as archive:
            archive.writestr("product.SAFE/fine.txt", b"fine")
            archive.writestr(evil, b"evil")
        workdir = tmp_path / "work"
        with pytest.raises(FailedPrecondition, match="unsafe path in zip"):
            unarchive(archive_path, workdir)
        assert not (tmp_path / "escape.txt").exists()
        assert list(workdir.iterdir()) == []  # nothing half-extracted is left behind


def test_empty_and_corrupt_zips(tmp_path: pathlib.Path) -> None:
    empty = tmp_path / f"{S2_ID}.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(FailedPrecondition, match=r"^empty zip"):
        LocalProvider(tmp_path).fetch(S2_ID, tmp_path / "work")
    empty.write_bytes(b"not a zip at all")
    with pytest.raises(FailedPrecondition):
        LocalProvider(tmp_path).fetch(S2_ID, tmp_path / "work")


def test_fetch_replaces_a_previous_copy(demo_zips: pathlib.Path, tmp_path: pathlib.Path) -> None:
    stale = tmp_path / f"{S2_ID}.SAFE"
    stale.mkdir()
    (stale / "stale.txt").write_text("left over")
    LocalProvider(demo_zips).fetch(S2_ID, tmp_path)
    assert not (stale / "stale.txt").exists()
    assert (stale / "manifest.safe").is_file()
