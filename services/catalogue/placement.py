"""Graph names and storage URIs of payloads, checked at ingestion with the workers' own rules.

A name like `../../etc/passwd` or a storage URI outside the workers' roots used to be accepted, and the
worker's refusal turned the scene into RETRY with the worker's paths in its message. The catalogue now
refuses them (INVALID_ARGUMENT naming the field) using the same checks as the workers
(`graph.loader.resolve_graph_file`, `storage.roots.within`), fed with catalogue settings that mirror
the workers' GRAPH_PATH, STORAGE_URI and STORAGE_ALLOWED_URIS (docs/storage.md).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterable

from services.domain import models
from services.runtime.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class Placement:
    # Graph folders searched before the bundled library (the workers' GRAPH_PATH); empty: only the
    # name's own rules are checked (no `..`, no other scheme), not that the file exists.
    graph_path: tuple[pathlib.Path, ...] = ()
    # Storage roots a payload's storage_uri may lie in; empty: not checked here (the workers still do).
    storage_roots: tuple[str, ...] = ()

    def check_graph(self, name: str, field: str) -> None:
        """An empty name is left to the validation of each request (required or not)."""
        if not name:
            return
        from services.graph import loader  # the graph engine is only needed here, not at import

        # Built-in graphs need software installed on the workers (SNAP): they decide, not us.
        if name in loader.BUILT_IN:
            return
        try:
            if self.graph_path:
                loader.resolve_graph_file(name, self.graph_path)
            else:
                # The folders are unknown here: the name's own rules only (the workers look it up).
                loader.check_graph_name(name)
        except InvalidArgument as exc:
            raise InvalidArgument(field, exc.reason) from None

    def check_storage(self, uri: str, field: str) -> None:
        if not uri or not self.storage_roots:
            return
        from services.storage import roots

        if not roots.within(uri, self.storage_roots):
            raise InvalidArgument(
                field,
                f"storage URI {uri} is outside the storage roots of the workers"
                " (allow it with the catalogue's and the workers' STORAGE_ALLOWED_URIS)",
            )

    def check_area(self, area: models.Area) -> None:
        self.check_graph(area.scene_graph_name, "scene_graph_name")
        self.check_graph(area.tile_graph_name, "tile_graph_name")
        self.check_storage(area.storage_uri, "storage_uri")

    def check_scene_attrs(self, data: models.SceneAttrs, field: str) -> None:
        self.check_graph(data.graph_name, f"{field}.graph_name")
        self.check_storage(data.storage_uri, f"{field}.storage_uri")

    def check_tile_attrs(self, data: models.TileAttrs, field: str) -> None:
        self.check_graph(data.graph_name, f"{field}.graph_name")

    def check_scenes(self, scenes: Iterable[models.CatalogScene]) -> None:
        for scene in scenes:
            self.check_scene_attrs(scene.data, "data")
            for tile in scene.tiles:
                self.check_tile_attrs(tile.data, f"tiles.{tile.source_id}.data")
