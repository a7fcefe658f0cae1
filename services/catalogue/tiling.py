"""Tile inventory (spec §3.3). Every constellation but Sentinel-1 (and Sentinel-1 copied as a whole
product) has one tile per scene, with the scene's id and footprint, and no previous/reference. Sentinel-1
processed burst by burst gets one tile per burst in the AOI (services/catalogue/bursts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from services.catalogue.bursts import inventory
from services.catalogue.bursts.annotations import RemoteAccess
from services.catalogue.bursts.inventory import IngestedTile
from services.catalogue.payload import ValidArea
from libs.domain import models, products

COPY_PRODUCT = "CopyProductToStorage"

__all__ = ["COPY_PRODUCT", "IngestedTile", "Tiler", "list_tiles"]


def list_tiles(
    valid: ValidArea,
    scenes: list[models.CatalogScene],
    annotation_urls: Sequence[str] = (),
    existing: Sequence[IngestedTile] = (),
    access: RemoteAccess | None = None,
) -> list[models.CatalogScene]:
    """`annotation_urls`: patterns tried before the payload's `annotations_urls` (the reference's service
    flag `--annotations-urls`). `existing`: the AOI's root and leaf tiles that are not FAILED, so new
    bursts chain onto them. `access`: how remote annotation places are reached. Only Sentinel-1 burst
    tiling uses the last three."""
    area = valid.area
    bursts = [s for s in scenes if _is_burst_scene(area, s)]
    whole = [s for s in scenes if not _is_burst_scene(area, s)]
    for scene in whole:
        tile = models.CatalogTile(
            source_id=scene.source_id,
            scene_id=scene.source_id,
            date=scene.data.date,
            data=models.TileAttrs(graph_name=area.tile_graph_name, is_retriable=area.is_retriable),
            wkt=scene.wkt,
        )
        scene.tiles = [tile]
        scene.data.tiles = {scene.source_id: models.TileMapping()}
    if not bursts:
        return scenes
    urls = [*annotation_urls, *area.annotations_urls]
    tiled = {id(s) for s in inventory.burst_inventory(valid, bursts, urls, existing, access)}
    # Scenes without any burst in the AOI are dropped (the reference's in-place filter duplicated others).
    return [s for s in scenes if id(s) in tiled or not _is_burst_scene(area, s)]


@dataclasses.dataclass(frozen=True)
class Tiler:
    """`list_tiles` with the catalogue's own settings: its annotation URL patterns (tried before the
    payload's) and the credentials of remote annotation places."""

    annotation_urls: tuple[str, ...] = ()
    access: RemoteAccess | None = None

    def __call__(
        self, valid: ValidArea, scenes: list[models.CatalogScene], existing: Sequence[IngestedTile] = ()
    ) -> list[models.CatalogScene]:
        return list_tiles(valid, scenes, self.annotation_urls, existing, self.access)


def _is_burst_scene(area: models.Area, scene: models.CatalogScene) -> bool:
    constellation = products.constellation_from_product_id(scene.source_id)
    return constellation == products.Constellation.SENTINEL1 and area.scene_graph_name != COPY_PRODUCT
