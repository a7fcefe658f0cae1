"""Tile inventory (spec §3.3). Every constellation but Sentinel-1 (and Sentinel-1 copied as a whole
product) has one tile per scene, with the scene's id and footprint, and no previous/reference."""

from __future__ import annotations

from services.domain import models, products
from services.runtime.errors import InvalidArgument

COPY_PRODUCT = "CopyProductToStorage"


def list_tiles(area: models.Area, scenes: list[models.CatalogScene]) -> list[models.CatalogScene]:
    for scene in scenes:
        constellation = products.constellation_from_product_id(scene.source_id)
        if constellation == products.Constellation.SENTINEL1 and area.scene_graph_name != COPY_PRODUCT:
            raise InvalidArgument(
                "scene_type.constellation",
                f"scene {scene.source_id}: Sentinel-1 burst tiling is not available yet;"
                f" use scene_graph_name {COPY_PRODUCT} to process whole Sentinel-1 products",
            )
        tile = models.CatalogTile(
            source_id=scene.source_id,
            scene_id=scene.source_id,
            date=scene.data.date,
            data=models.TileAttrs(graph_name=area.tile_graph_name, is_retriable=area.is_retriable),
            wkt=scene.wkt,
        )
        scene.tiles = [tile]
        scene.data.tiles = {scene.source_id: models.TileMapping()}
    return scenes
