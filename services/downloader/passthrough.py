"""Storing a zipped product as it is, when the scene graph would only re-pack it.

`CopyProductToStorage` (no step, one output: the whole working directory as `<scene>.zip`) applied to a
product that arrives as a zip would unzip it and zip the same entries again: ~15 ms of file work per
scene for nothing (docs/benchmarks.md). When the graph is exactly that and the provider can point at the
archive, the archive itself is stored under each tile's key. The stored object has the same entries at
its root, so the processor imports it exactly as it would the re-packed one.
"""

from __future__ import annotations

import pathlib
import zipfile

from libs.graph.model import Action, Condition, Graph

PRODUCT_LAYER = "__product__"


def is_repack_only(graph: Graph) -> bool:
    """True for a graph with no step whose only output is the whole working directory, unconditionally."""
    outputs = [f for slot in graph.out_files for f in slot]
    if graph.steps or len(outputs) != 1 or graph.out_files[0] != outputs:
        return False
    out = outputs[0]
    return (
        out.layer == PRODUCT_LAYER
        and out.extension == "*"
        and out.action is Action.TO_CREATE
        and out.condition is Condition.PASS
        and out.error_condition is None
    )


def storable_archive(path: pathlib.Path) -> bool:
    """A non-empty zip whose member names are safe to extract on import (no absolute path, no `..`)."""
    if path.suffix != ".zip" or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            return False
    return bool(names)
