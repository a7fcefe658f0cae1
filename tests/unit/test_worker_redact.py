"""Worker folders are replaced in reported messages (they are shown to clients)."""

from __future__ import annotations

import pathlib

from libs.graph.loader import LIBRARY_DIR
from libs.worker.redact import Redactor


def test_known_folders_become_placeholders(tmp_path: pathlib.Path) -> None:
    work, graphs, storage = tmp_path / "work", tmp_path / "graphs", tmp_path / "storage"
    link = tmp_path / "link"
    link.symlink_to(graphs, target_is_directory=True)
    redact = Redactor.for_worker(
        work, [link], [f"file://{storage}", "s3://bucket/prefix"], [str(tmp_path / "archive"), ""]
    )
    message = (
        f"ProcessTile[T].process[ {graphs}/run.py {work}/123/in.tif {storage}/out.tif]: exit 1;"
        f" Command not found: x (graph {LIBRARY_DIR}/graph/G.json); {tmp_path}/archive/S.zip: missing;"
        " s3://bucket/prefix/x stays (a URI of the payload's storage, not a folder of the server)"
    )
    assert redact(message) == (
        "ProcessTile[T].process[ <graph folder>/run.py <workdir>/123/in.tif <storage>/out.tif]: exit 1;"
        " Command not found: x (graph <graph library>/graph/G.json); <archive>/S.zip: missing;"
        " s3://bucket/prefix/x stays (a URI of the payload's storage, not a folder of the server)"
    )


def test_a_folder_inside_another_keeps_its_own_placeholder(tmp_path: pathlib.Path) -> None:
    redact = Redactor({str(tmp_path): "<storage>", str(tmp_path / "work"): "<workdir>", "/": "<never>"})
    assert redact(f"{tmp_path}/work/a {tmp_path}/b /c") == "<workdir>/a <storage>/b /c"
