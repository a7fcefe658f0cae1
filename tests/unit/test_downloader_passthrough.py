"""The downloader stores a zipped product as it is only when the scene graph would just re-pack it."""

from __future__ import annotations

import pathlib
import zipfile

from services.downloader import passthrough
from libs.graph import load_graph


def test_only_copy_product_to_storage_is_repack_only(tmp_path: pathlib.Path) -> None:
    assert passthrough.is_repack_only(load_graph("CopyProductToStorage", [], retriable=False))
    assert not passthrough.is_repack_only(load_graph("Pass", [], retriable=False))
    assert not passthrough.is_repack_only(load_graph("library/ExtractS2Bands.json", [], retriable=False))
    # The same output behind a condition, or with a step, must go through the graph.
    graph = tmp_path / "conditional.json"
    graph.write_text('{"out_files": [[{"layer": "__product__", "extension": "*", "action": "to_create",'
                     ' "condition": "different_T0_T1"}], [], []]}')
    assert not passthrough.is_repack_only(load_graph(str(graph), [tmp_path], retriable=False))


def test_storable_archive_refuses_unsafe_or_broken_zips(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "S2A_X.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("S2A_X.SAFE/manifest.safe", "<xml/>")
    assert passthrough.storable_archive(good)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.txt", "x")
    assert not passthrough.storable_archive(evil)
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    assert not passthrough.storable_archive(empty)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    assert not passthrough.storable_archive(broken)
    assert not passthrough.storable_archive(tmp_path / "S2A_X.SAFE")  # a folder: the graph re-packs it
