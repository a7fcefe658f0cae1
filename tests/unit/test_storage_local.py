"""Local storage: URI parsing, atomic uploads, NotFound, keys that would escape the root."""

from __future__ import annotations

import os
import pathlib
import shutil
from typing import IO

import pytest

from libs.runtime.errors import InvalidArgument, NotFound
from libs.storage import LocalStorage, open_storage


def _file(path: pathlib.Path, content: bytes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_open_storage_plain_path_and_file_uri(tmp_path: pathlib.Path) -> None:
    plain = open_storage(str(tmp_path / "root"))
    assert isinstance(plain, LocalStorage)
    assert plain.uri("a/b.tif") == f"{tmp_path}/root/a/b.tif"
    uri = open_storage(f"file://{tmp_path}/root/")
    assert isinstance(uri, LocalStorage)
    assert uri.root == tmp_path / "root"
    assert uri.uri("my aoi/b.tif") == f"file://{tmp_path}/root/my%20aoi/b.tif"
    assert open_storage(f"file://localhost{tmp_path}").uri("k") == f"file://{tmp_path}/k"
    assert open_storage("/").uri("k") == "/k"
    assert open_storage("file:///").uri("k") == "file:///k"


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("ftp://host/prefix", "'ftp'"),
        ("gs://", "no bucket"),
        ("https://example.com/x", "'https'"),
        ("relative/path", "absolute"),
        ("", "absolute"),
        ("file://otherhost/data", "otherhost"),
        ("file://relative", "relative"),
    ],
)
def test_open_storage_rejects(uri: str, needle: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        open_storage(uri)
    assert exc.value.field == "storage_uri"
    assert needle in str(exc.value)


def test_put_get_exists_delete(tmp_path: pathlib.Path) -> None:
    storage = open_storage(str(tmp_path / "root"))
    source = _file(tmp_path / "work" / "f.tif", b"pixels" * 1000)
    assert not storage.exists("aoi/s/tiles/t/f.tif")
    uri = storage.put_file(source, "aoi/s/tiles/t/f.tif")
    assert uri == f"{tmp_path}/root/aoi/s/tiles/t/f.tif"
    assert storage.exists("aoi/s/tiles/t/f.tif")
    target = tmp_path / "other" / "deep" / "copy.tif"
    storage.get_file("aoi/s/tiles/t/f.tif", target)
    assert target.read_bytes() == source.read_bytes()
    storage.delete("aoi/s/tiles/t/f.tif")
    assert not storage.exists("aoi/s/tiles/t/f.tif")


def test_missing_objects_are_not_found(tmp_path: pathlib.Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    with pytest.raises(NotFound) as exc:
        storage.get_file("a/missing.tif", tmp_path / "x.tif")
    assert str(exc.value) == f"File not found: file://{tmp_path}/a/missing.tif"
    assert not (tmp_path / "x.tif").exists()
    with pytest.raises(NotFound) as exc:
        storage.delete("a/missing.tif")
    assert str(exc.value) == f"File not found: file://{tmp_path}/a/missing.tif"


def test_put_replaces_atomically_and_leaves_no_partial_file(tmp_path: pathlib.Path) -> None:
    storage = open_storage(str(tmp_path / "root"))
    storage.put_file(_file(tmp_path / "v1", b"version 1"), "k/f.bin")
    storage.put_file(_file(tmp_path / "v2", b"version 2, longer"), "k/f.bin")
    assert (tmp_path / "root" / "k" / "f.bin").read_bytes() == b"version 2, longer"
    assert os.listdir(tmp_path / "root" / "k") == ["f.bin"]


def test_interrupted_put_keeps_the_previous_object(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = open_storage(str(tmp_path / "root"))
    storage.put_file(_file(tmp_path / "v1", b"version 1"), "k/f.bin")

    def copy_half_then_fail(src: IO[bytes], dst: IO[bytes], length: int = 0) -> None:
        dst.write(src.read(3))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", copy_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        storage.put_file(_file(tmp_path / "v2", b"version 2"), "k/f.bin")
    assert (tmp_path / "root" / "k" / "f.bin").read_bytes() == b"version 1"
    assert os.listdir(tmp_path / "root" / "k") == ["f.bin"]


@pytest.mark.parametrize("key", ["../escape", "/abs/key", "a/../../b", "a//b", "a/./b", "", "a\\b", "a\x00"])
def test_keys_cannot_escape_the_root(tmp_path: pathlib.Path, key: str) -> None:
    storage = open_storage(str(tmp_path / "root"))
    source = _file(tmp_path / "f", b"x")
    with pytest.raises(InvalidArgument):
        storage.put_file(source, key)
    with pytest.raises(InvalidArgument):
        storage.get_file(key, tmp_path / "g")
    with pytest.raises(InvalidArgument):
        storage.delete(key)
    with pytest.raises(InvalidArgument):
        storage.exists(key)
    assert not (tmp_path / "escape").exists()
