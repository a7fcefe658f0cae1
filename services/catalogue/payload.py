"""The one validation of an area payload (the reference's AreaToIngest, spec §2), for every entry point.

A payload reaches the catalogue as a `types_pb2.Area` in SearchScenes, ListTiles and IngestArea: from
the gateway, which only decodes the reference's JSON into the proto (a JSON shape or type error is
refused there, naming the field), or from any gRPC client. Each of those RPCs calls one function of this
module, once, before any work: `for_search`, `for_tiling`, `for_ingestion`. They run the checks in the
order written below and answer the first failure as InvalidArgument(field, reason), so an HTTP client
and a gRPC client get the same field and reason; nothing has been read or written yet.

What passes is a `ValidArea`: the area as sent, its geometry parsed once, its constellation resolved
once. The scene inventory, the scene sources, the tiler and the ingestion take that object and do not
check again. Checks that need the database or the Geocube (layers naming existing instances), or the
scenes a search found (record tags agree with them), stay with the code that has those; docs/payload.md
lists every check, where it lives and in which order.

The graph-name and storage rules are the workers' own (`graph.loader`, `storage.roots`), fed with
catalogue settings mirroring the workers' GRAPH_PATH, STORAGE_URI and STORAGE_ALLOWED_URIS
(`Placement`): a name like `../../etc/passwd` or a storage URI outside the workers' roots is refused at
ingestion (INVALID_ARGUMENT naming the field), not as a RETRY later with the worker's paths in its message.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Iterable, Sequence

import shapely

from libs.domain import models, products, wkt
from libs.runtime.errors import InvalidArgument

_AOI_NAME = re.compile(r"^[a-zA-Z0-9\-:_]+$")


@dataclasses.dataclass(frozen=True)
class ValidArea:
    """An area that passed the checks of its RPC. Built by the functions below only (tests excepted)."""

    area: models.Area
    # Parsed from area.geometry_wkt, prepared for repeated predicates. Non-empty for a search or an
    # ingestion; ListTiles accepts an empty one (no burst lies in it; whole products need none).
    geometry: shapely.Geometry
    # Known for a search or an ingestion; ListTiles does not use it (tiles follow the scenes' ids), so
    # there it may be UNKNOWN.
    constellation: products.Constellation


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the workers look for graphs and may store: the catalogue's mirror of their settings."""

    # Graph folders searched before the bundled library (the workers' GRAPH_PATH); empty: only the
    # name's own rules are checked (no `..`, no other scheme), not that the file exists.
    graph_path: tuple[pathlib.Path, ...] = ()
    # Storage roots a payload's storage_uri may lie in; empty: not checked here (the workers still do).
    storage_roots: tuple[str, ...] = ()

    def check_graph(self, name: str, field: str) -> None:
        """An empty name is left to the checks of each request (required or not)."""
        if not name:
            return
        from libs.graph import loader  # the graph engine is only needed here, not at import

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
        from libs.storage import roots

        if not roots.within(uri, self.storage_roots):
            raise InvalidArgument(
                field,
                f"storage URI {uri} is outside the storage roots of the workers"
                " (allow it with the catalogue's and the workers' STORAGE_ALLOWED_URIS)",
            )

    def check_scene_attrs(self, data: models.SceneAttrs, field: str) -> None:
        self.check_graph(data.graph_name, f"{field}.graph_name")
        self.check_storage(data.storage_uri, f"{field}.storage_uri")

    def check_tile_attrs(self, data: models.TileAttrs, field: str) -> None:
        self.check_graph(data.graph_name, f"{field}.graph_name")

    def check_scenes(self, scenes: Iterable[models.CatalogScene], *, with_tiles: bool = True) -> None:
        for scene in scenes:
            self.check_scene_attrs(scene.data, "data")
            if with_tiles:
                for tile in scene.tiles:
                    self.check_tile_attrs(tile.data, f"tiles.{tile.source_id}.data")


# ---------------------------------------------------------------------------------------------------
# The checks, one function each, in the order the RPCs run them.


def check_name(area: models.Area) -> None:
    if not _AOI_NAME.match(area.name):
        raise InvalidArgument(
            "name", f"wrong format for AOIID (must be chars, numbers and -:_ found '{area.name}')"
        )


def check_constellation(area: models.Area) -> products.Constellation:
    constellation = products.parse_constellation(area.constellation)
    if constellation == products.Constellation.UNKNOWN:
        raise InvalidArgument("scene_type.constellation", f"unrecognized constellation: {area.constellation}")
    return constellation


def check_geometry(area: models.Area, *, allow_empty: bool = False) -> shapely.Geometry:
    if not area.geometry_wkt:
        raise InvalidArgument("geometry", "the area has no geometry")
    try:
        geometry = wkt.from_wkt(area.geometry_wkt)
    except shapely.errors.ShapelyError as exc:
        raise InvalidArgument("geometry", f"invalid geometry: {exc}") from None
    if geometry.is_empty and not allow_empty:
        raise InvalidArgument("geometry", "the geometry is empty")
    shapely.prepare(geometry)
    return geometry


def check_dates(area: models.Area) -> None:
    if area.end_time < area.start_time:
        raise InvalidArgument("end_time", "end_time is before start_time")


def check_paging(area: models.Area) -> None:
    if area.page < 0 or area.limit < 0:
        raise InvalidArgument("page" if area.page < 0 else "limit", "must be 0 or more")


def check_graphs_given(area: models.Area) -> None:
    for field in ("scene_graph_name", "tile_graph_name"):
        if not getattr(area, field):
            raise InvalidArgument(field, "required for ingestion")


def check_retry_count(area: models.Area) -> None:
    if area.retry_count < 0:
        raise InvalidArgument("retry_count", "must be 0 or more")


def check_layers(area: models.Area) -> None:
    """Each layer names an instance by id, or by variable and instance: whether it exists is the
    registry's (or the Geocube's) to say, at ingestion (`Records.resolve_layers`)."""
    for name, layer in sorted(area.layers.items()):
        if not layer.instance_id and not (layer.variable and layer.instance):
            raise InvalidArgument(f"layers.{name}", "needs instance_id, or variable and instance")


def check_placement(area: models.Area, placement: Placement) -> None:
    placement.check_graph(area.scene_graph_name, "scene_graph_name")
    placement.check_graph(area.tile_graph_name, "tile_graph_name")
    placement.check_storage(area.storage_uri, "storage_uri")


# ---------------------------------------------------------------------------------------------------
# One entry per RPC.


def for_search(area: models.Area) -> ValidArea:
    """SearchScenes: what a scene search needs (the reference validates nothing here, spec §2.3)."""
    constellation = check_constellation(area)
    geometry = check_geometry(area)
    check_dates(area)
    check_paging(area)
    return ValidArea(area, geometry, constellation)


def for_tiling(area: models.Area) -> ValidArea:
    """ListTiles: the AOI the bursts are cut to (tiling takes everything else from the scenes)."""
    geometry = check_geometry(area, allow_empty=True)
    return ValidArea(area, geometry, products.parse_constellation(area.constellation))


def for_ingestion(
    area: models.Area,
    placement: Placement,
    scenes: Sequence[models.CatalogScene] | None = None,
    tiles: Sequence[models.CatalogScene] | None = None,
) -> ValidArea:
    """IngestArea: the reference's ValidateArea (name, constellation, layers; spec §2.3) and ours; the
    search checks too when neither `scenes` nor `tiles` were uploaded (the catalogue searches).

    Uploaded scenes carry their own graph names and storage URIs: every one is checked here, before
    tiling (uploaded `scenes` are tiled anew, so only their scene data counts; uploaded `tiles` are
    used as they are, tiles included)."""
    check_name(area)
    constellation = check_constellation(area)
    geometry = check_geometry(area)
    if scenes is None and tiles is None:
        check_dates(area)
        check_paging(area)
    check_graphs_given(area)
    check_retry_count(area)
    check_layers(area)
    check_placement(area, placement)
    if tiles is not None:
        placement.check_scenes(tiles)
    elif scenes is not None:
        placement.check_scenes(scenes, with_tiles=False)
    return ValidArea(area, geometry, constellation)
