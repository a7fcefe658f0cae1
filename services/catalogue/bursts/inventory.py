"""Burst inventory of Sentinel-1 scenes: bursts of each scene inside the AOI, then previous/reference
links across dates (reference §3.3 steps 3-8, spec sentinel1-bursts.md §3, §5, §6).

Matching differs from the reference on purpose (docs/compatibility.md): bursts are the same when
(track, swath, ESA burst ID) are equal, instead of Geocube keys pooled within 0.5 s. On well-behaved
products both give the same pairs (tested on the fixtures); the ESA ID does not split a burst whose key
rounds differently on two dates and cannot chain a burst to its neighbour. Tile ids stay the reference's.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import itertools
import logging
import re
from collections.abc import Sequence

import shapely

from services.catalogue.bursts import annotations as annotation_files
from services.catalogue.bursts import burst_id, parse
from services.catalogue.payload import ValidArea
from libs.domain import models
from libs.runtime.errors import InvalidArgument

log = logging.getLogger(__name__)

# The reference buffers the AOI by 0.05° with GEOS's default 8 segments per quadrant (shapely's is 16).
AOI_BUFFER_DEGREES = 0.05
_QUAD_SEGS = 8
# The reference warns past this gap (its text says "6 days", a leftover of the S1A+S1B era).
_GAP_WARNING = dt.timedelta(days=7)
# Scenes whose annotations are fetched at the same time (remote places are latency-bound).
_READERS = 8


@dataclasses.dataclass(frozen=True)
class IngestedTile:
    """A tile already in the workflow for this AOI: a root (no previous, no reference) or a leaf (nobody's
    previous), not FAILED. New tiles chain onto leaves and point at roots; these are never modified."""

    source_id: str  # e.g. "A108_IW1_8472"
    scene_id: str
    date: dt.datetime  # its scene's date


@dataclasses.dataclass
class _Node:
    track: str  # direction letter + relative orbit, e.g. "A108"
    swath: str
    burst_id: int
    date: dt.datetime
    ref: models.TileRef
    tile: models.CatalogTile | None  # None for an ingested tile


def burst_inventory(
    valid: ValidArea,
    scenes: Sequence[models.CatalogScene],
    annotation_urls: Sequence[str],
    existing: Sequence[IngestedTile] = (),
    access: annotation_files.RemoteAccess | None = None,
) -> list[models.CatalogScene]:
    """Scenes with their burst tiles (scenes without any burst in the AOI are dropped; the given list is
    not modified), each tile linked to its previous and reference tiles."""
    area = valid.area
    aoi = _buffered_aoi(valid.geometry)
    kept = []
    nodes: list[_Node] = []

    def read(scene: models.CatalogScene) -> annotation_files.AnnotationFiles:
        return annotation_files.read_annotations(
            scene.source_id, scene.aoi or area.name, annotation_urls, access
        )

    # Fetching is I/O (remote places cost round trips): scenes are read concurrently, parsed in order.
    with concurrent.futures.ThreadPoolExecutor(_READERS) as pool:
        found = list(pool.map(read, scenes))
    for scene, files in zip(scenes, found, strict=True):
        for tile, burst in _scene_tiles(area, scene, files, aoi):
            track = tile.source_id.split("_", 1)[0]
            assert burst.burst_id is not None  # _scene_tiles refuses bursts without an ID
            nodes.append(_Node(track, burst.swath, burst.burst_id, tile.date,
                               models.TileRef(tile.source_id, tile.scene_id, tile.date), tile))  # fmt: skip
        if scene.tiles:
            kept.append(scene)
    # A tile both root and leaf comes twice; a rescanned scene's tiles are already new nodes.
    known = {(n.ref.source_id, n.ref.scene_id) for n in nodes}
    unique = {(t.source_id, t.scene_id): t for t in existing if (t.source_id, t.scene_id) not in known}
    nodes.extend(filter(None, map(_ingested_node, unique.values())))
    link(nodes)
    return kept


def _buffered_aoi(geometry: shapely.Geometry) -> shapely.Geometry:
    aoi = geometry.buffer(AOI_BUFFER_DEGREES, quad_segs=_QUAD_SEGS)
    shapely.prepare(aoi)
    return aoi


def _scene_tiles(
    area: models.Area,
    scene: models.CatalogScene,
    found: annotation_files.AnnotationFiles,
    aoi: shapely.Geometry,
) -> list[tuple[models.CatalogTile, parse.Burst]]:
    tag_orbit = scene.tags.get("relativeOrbit", "")
    seen: set[int] = set()
    result = []
    scene.tiles = []
    scene.data.tiles = {}
    parsed_swaths: set[str] = set()
    for name, data in found.files:
        # The other polarisation of a swath annotates the same bursts (same times, same grid): parsing
        # it would only give duplicates to drop, and parsing is most of the inventory's time.
        swath = _swath_of_file(name)
        if swath is not None and swath in parsed_swaths:
            continue
        if swath is not None:
            parsed_swaths.add(swath)
        try:
            bursts = parse.parse_annotation(data, name, int(tag_orbit) if tag_orbit.isdigit() else None)
        except parse.AnnotationError as err:
            raise InvalidArgument(annotation_files.FIELD, f"scene {scene.source_id}: {err}") from None
        for burst in bursts:
            # VV and VH files of a swath give the same keys: first file (sorted by name) wins. Like the
            # reference, the key set is scene-wide (keys of different swaths never collide).
            if burst.anx_key in seen:
                continue
            seen.add(burst.anx_key)
            if burst.burst_id is None:
                raise InvalidArgument(
                    annotation_files.FIELD,
                    f"scene {scene.source_id}: no ESA burst ID for {burst.swath} burst {burst.tile_nr}"
                    f" of {name} (no <burstId> and no relative orbit to compute it)",
                )
            tile_id = _tile_id(scene, burst)
            tile = models.CatalogTile(
                source_id=tile_id,
                scene_id=scene.source_id,
                date=scene.data.date,  # the scene's start, as the reference: not the burst's time
                data=models.TileAttrs(burst.swath, burst.tile_nr, area.tile_graph_name, area.is_retriable),
                anx_time=burst.anx_key,
                wkt=burst.wkt,
            )
            if aoi.intersects(shapely.from_wkt(burst.wkt)):
                scene.tiles.append(tile)
                scene.data.tiles[tile_id] = models.TileMapping(burst.swath, burst.tile_nr)
                result.append((tile, burst))
    return result


# ESA's annotation file names: s1a-iw1-slc-vv-<start>-<stop>-<orbit>-<datatake>-<n>.xml
_ANNOTATION_NAME = re.compile(r"^s1[a-d]-([a-z]{1,2}\d)-slc-(?:vv|vh|hh|hv)-", re.IGNORECASE)


def _swath_of_file(name: str) -> str | None:
    match = _ANNOTATION_NAME.match(name.rsplit("/", 1)[-1])
    return match.group(1).lower() if match else None


def _tile_id(scene: models.CatalogScene, burst: parse.Burst) -> str:
    # The reference takes both parts from the catalogue tags; we fall back on the annotation when a
    # catalogue gives none (the reference panics), and upper-case the direction so that ids made from
    # different catalogues group together.
    direction = (scene.tags.get("orbitDirection", "") or burst.direction)[:1].upper()
    orbit = scene.tags.get("relativeOrbit", "") or (str(burst.relative_orbit) if burst.relative_orbit else "")
    if not direction or not orbit:
        raise InvalidArgument(
            "scenes", f"scene {scene.source_id}: orbitDirection/relativeOrbit tags needed to name its bursts"
        )
    return parse.tile_id(direction, orbit, burst.swath, burst.anx_key)


def _ingested_node(tile: IngestedTile) -> _Node | None:
    parts = tile.source_id.split("_")
    # Sentinel-1 tiles made by CopyProductToStorage are whole products (id = scene id): not bursts.
    if len(parts) != 3 or not parts[0][1:].isdigit() or not parts[2].isdigit():
        log.warning(
            "ingested tile %s of scene %s is not a burst tile: ignored", tile.source_id, tile.scene_id
        )
        return None
    track, swath, key = parts[0], parts[1], int(parts[2])
    esa_id = burst_id.esa_burst_id_from_key(swath, key, int(track[1:]))
    if esa_id is None:
        return None
    return _Node(
        track, swath, esa_id, tile.date, models.TileRef(tile.source_id, tile.scene_id, tile.date), None
    )


def link(nodes: list[_Node]) -> None:
    """Previous/reference of every new tile: within one burst (track, swath, ESA ID), sorted by date, the
    first is the root; each later new tile gets reference = root and previous = the one just before.
    Ingested tiles are never changed. Sorts are stable with (date, scene id) ties, unlike the reference."""

    def same_burst(n: _Node) -> tuple[str, str, int]:
        return (n.track, n.swath, n.burst_id)

    gaps: set[tuple[str, str]] = set()
    for _key, group in itertools.groupby(sorted(nodes, key=same_burst), key=same_burst):
        pool = sorted(group, key=lambda n: (n.date, n.ref.scene_id, n.ref.source_id))
        for before, node in itertools.pairwise(pool):
            if node.tile is None:
                continue
            node.tile.reference = pool[0].ref
            node.tile.previous = before.ref
            if node.date > before.date + _GAP_WARNING:
                gaps.add((node.ref.scene_id, before.ref.scene_id))
    # Once per scene pair, not per tile as the reference (a 12-day single-satellite revisit is normal).
    for scene_id, previous_id in sorted(gaps):
        log.warning("scene %s: previous scene %s is more than 7 days older", scene_id, previous_id)
