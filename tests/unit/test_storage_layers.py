"""Saving, importing and deleting layers (spec §7.2): zipped directories, `*`, `.dim` + `.data`."""

from __future__ import annotations

import datetime as dt
import pathlib
import zipfile

import pytest

from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.runtime.errors import InvalidArgument, NotFound
from libs.storage import layers, open_storage
from libs.storage.backend import Storage

S2_SCENE = "S2A_MSIL1C_20220104T103421_N0301_R108_T32VNH_20220104T123507"
S1_SCENE = "S1A_IW_SLC__1SDV_20190103T170631_20190103T170658_025312_02CCE8_9D2D"


def make_tile(scene_id: str, tile_id: str | None = None) -> Tile:
    date = dt.datetime(2019, 1, 3, 17, 6, 31, tzinfo=dt.UTC)
    scene = Scene(id=1, source_id=scene_id, aoi="denmark", data=SceneAttrs(date=date))
    return Tile(id=2, source_id=tile_id or scene_id, scene=scene, data=TileAttrs())


def tree(root: pathlib.Path) -> dict[str, bytes | None]:
    """Relative path → content (None for directories) of everything below root."""
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in root.rglob("*")}


def make_safe(workdir: pathlib.Path) -> pathlib.Path:
    safe = workdir / f"{S2_SCENE}.SAFE"
    (safe / "GRANULE" / "L1C_T32VNH" / "IMG_DATA").mkdir(parents=True)
    (safe / "AUX_DATA").mkdir()  # empty directories survive the round trip
    (safe / "manifest.safe").write_text("<manifest/>")
    (safe / "GRANULE" / "L1C_T32VNH" / "IMG_DATA" / "T32VNH_B01.jp2").write_bytes(bytes(range(256)) * 10)
    return safe


@pytest.fixture
def storage(tmp_path: pathlib.Path) -> Storage:
    return open_storage(f"file://{tmp_path / 'storage'}")


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def workdir2(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "work2"
    path.mkdir()
    return path


def stored_path(tmp_path: pathlib.Path, tile: Tile, name: str) -> pathlib.Path:
    return tmp_path / "storage" / "denmark" / tile.scene.source_id / "tiles" / tile.source_id / name


def test_safe_directory_round_trip(
    tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path, workdir2: pathlib.Path
) -> None:
    tile = make_tile(S2_SCENE)
    safe = make_safe(workdir)
    uri = layers.save_layer(storage, workdir, tile, "__product__", "SAFE")
    assert uri == f"file://{tmp_path}/storage/denmark/{S2_SCENE}/tiles/{S2_SCENE}/{S2_SCENE}.zip"
    with zipfile.ZipFile(stored_path(tmp_path, tile, f"{S2_SCENE}.zip")) as archive:
        names = archive.namelist()
        assert all(
            info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist() if not info.is_dir()
        )
    assert f"{S2_SCENE}.SAFE/manifest.safe" in names
    assert f"{S2_SCENE}.SAFE/AUX_DATA/" in names
    assert sorted(p.name for p in workdir.iterdir()) == [f"{S2_SCENE}.SAFE"]  # the local zip is gone

    imported = layers.import_layer(storage, workdir2, tile, "__product__", "SAFE")
    assert imported == workdir2 / f"{S2_SCENE}.SAFE"
    assert tree(imported) == tree(safe)
    assert sorted(p.name for p in workdir2.iterdir()) == [f"{S2_SCENE}.SAFE"]


def test_whole_workdir_round_trip(
    tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path, workdir2: pathlib.Path
) -> None:
    tile = make_tile(S2_SCENE)
    make_safe(workdir)
    (workdir / "extra.xml").write_text("<x/>")
    layers.save_layer(storage, workdir, tile, "__product__", "*")
    with zipfile.ZipFile(stored_path(tmp_path, tile, f"{S2_SCENE}.zip")) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
    assert top == {f"{S2_SCENE}.SAFE", "extra.xml"}

    # Imported as `*`: no entry is named after the scene, so the whole archive becomes that folder.
    imported = layers.import_layer(storage, workdir2, tile, "__product__", "*")
    assert imported == workdir2 / S2_SCENE
    assert tree(imported) == tree(workdir)
    # Imported as SAFE (what ExtractS2Bands does): only the .SAFE entry is kept.
    layers.import_layer(storage, workdir2, tile, "__product__", "SAFE")
    assert tree(workdir2 / f"{S2_SCENE}.SAFE") == tree(workdir / f"{S2_SCENE}.SAFE")
    assert sorted(p.name for p in workdir2.iterdir()) == [S2_SCENE, f"{S2_SCENE}.SAFE"]


def test_dim_and_data_round_trip(
    tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path, workdir2: pathlib.Path
) -> None:
    tile = make_tile(S1_SCENE, "A44_IW1_1561")
    (workdir / "20190103_A44_IW1_1561_preprocessed.dim").write_text("<Dimap/>")
    data = workdir / "20190103_A44_IW1_1561_preprocessed.data"
    (data / "vector_data").mkdir(parents=True)
    (data / "i_IW1_VV.img").write_bytes(b"\x00\x01" * 500)
    (workdir / "unrelated.tif").write_bytes(b"no")
    uri = layers.save_layer(storage, workdir, tile, "preprocessed", "dim")
    assert uri.endswith("/tiles/A44_IW1_1561/20190103_A44_IW1_1561_preprocessed.zip")
    with zipfile.ZipFile(stored_path(tmp_path, tile, "20190103_A44_IW1_1561_preprocessed.zip")) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
    assert top == {"20190103_A44_IW1_1561_preprocessed.dim", "20190103_A44_IW1_1561_preprocessed.data"}

    layers.import_layer(storage, workdir2, tile, "preprocessed", "dim")
    assert (workdir2 / "20190103_A44_IW1_1561_preprocessed.dim").read_text() == "<Dimap/>"
    assert tree(workdir2 / "20190103_A44_IW1_1561_preprocessed.data") == tree(data)
    assert sorted(p.name for p in workdir2.iterdir()) == [
        "20190103_A44_IW1_1561_preprocessed.data",
        "20190103_A44_IW1_1561_preprocessed.dim",
    ]


def test_plain_file_and_zip_extension(
    tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path, workdir2: pathlib.Path
) -> None:
    tile = make_tile(S1_SCENE, "A44_IW1_1561")
    (workdir / "20190103_A44_IW1_1561_sigma0_VV.tif").write_bytes(b"tif")
    (workdir / f"{S1_SCENE}_annotations.zip").write_bytes(b"PK-not-unzipped")
    layers.save_layer(storage, workdir, tile, "sigma0_VV", "tif")
    layers.save_layer(storage, workdir, tile, "__annotations__", "zip")
    assert layers.import_layer(storage, workdir2, tile, "sigma0_VV", "tif").read_bytes() == b"tif"
    # A `zip` layer is imported as it is stored, not unzipped.
    assert (
        layers.import_layer(storage, workdir2, tile, "__annotations__", "zip").read_bytes()
        == b"PK-not-unzipped"
    )
    layers.delete_layer(storage, tile, "sigma0_VV", "tif")
    with pytest.raises(NotFound, match=r"^File not found: file://.*_sigma0_VV\.tif$"):
        layers.delete_layer(storage, tile, "sigma0_VV", "tif")
    with pytest.raises(NotFound, match="File not found"):
        layers.import_layer(storage, workdir2, tile, "sigma0_VH", "tif")


def test_delete_zip_stored_layer(tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path) -> None:
    tile = make_tile(S2_SCENE)
    make_safe(workdir)
    layers.save_layer(storage, workdir, tile, "__product__", "*")
    layers.delete_layer(storage, tile, "__product__", "SAFE")  # the same `<scene>.zip` object
    assert not stored_path(tmp_path, tile, f"{S2_SCENE}.zip").exists()
    with pytest.raises(NotFound, match=f"File not found: .*{S2_SCENE}.zip"):
        layers.delete_layer(storage, tile, "__product__", "*")


def test_missing_source_is_not_found(storage: Storage, workdir: pathlib.Path) -> None:
    tile = make_tile(S2_SCENE)
    with pytest.raises(NotFound):
        layers.save_layer(storage, workdir, tile, "__product__", "SAFE")
    with pytest.raises(NotFound):
        layers.save_layer(storage, workdir, tile, "B01", "jp2")
    with pytest.raises(NotFound, match="File not found"):
        layers.import_layer(storage, workdir, tile, "__product__", "SAFE")
    assert list(workdir.iterdir()) == []


def _store_zip(tmp_path: pathlib.Path, tile: Tile, entries: dict[str, bytes]) -> None:
    path = stored_path(tmp_path, tile, f"{tile.scene.source_id}.zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)


def test_archive_without_the_expected_folder_becomes_it(
    tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path
) -> None:
    tile = make_tile(S2_SCENE)
    _store_zip(tmp_path, tile, {"manifest.safe": b"m", "GRANULE/g/IMG_DATA/x_B02.jp2": b"b"})
    (workdir / f"{S2_SCENE}.SAFE").mkdir()
    (workdir / f"{S2_SCENE}.SAFE" / "stale").write_text("replaced on import")
    layers.import_layer(storage, workdir, tile, "__product__", "SAFE")
    assert tree(workdir / f"{S2_SCENE}.SAFE") == {
        "manifest.safe": b"m",
        "GRANULE": None,
        "GRANULE/g": None,
        "GRANULE/g/IMG_DATA": None,
        "GRANULE/g/IMG_DATA/x_B02.jp2": b"b",
    }


@pytest.mark.parametrize("evil", ["../evil.txt", "/tmp/evil-abs.txt", "a/../../evil.txt", "..\\evil.txt"])
def test_zip_slip_is_refused(
    tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path, evil: str
) -> None:
    tile = make_tile(S2_SCENE)
    _store_zip(tmp_path, tile, {"ok.txt": b"ok", evil: b"pwned"})
    with pytest.raises(InvalidArgument, match="escapes"):
        layers.import_layer(storage, workdir, tile, "__product__", "SAFE")
    assert not (tmp_path / "evil.txt").exists()
    assert not pathlib.Path("/tmp/evil-abs.txt").exists()
    assert list(workdir.iterdir()) == []  # the downloaded zip and the extraction folder are cleaned up


def test_corrupt_archive(tmp_path: pathlib.Path, storage: Storage, workdir: pathlib.Path) -> None:
    tile = make_tile(S2_SCENE)
    path = stored_path(tmp_path, tile, f"{S2_SCENE}.zip")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(InvalidArgument, match="not a valid zip"):
        layers.import_layer(storage, workdir, tile, "__product__", "SAFE")
    assert list(workdir.iterdir()) == []
