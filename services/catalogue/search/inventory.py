"""Scene inventory (spec §3.1): asks the configured scene sources, then applies what every source shares —
the payload's common attributes and the refinements (duplicates, outside the AOI). The payload arrives
validated (services/catalogue/payload.py): nothing here checks it again."""

from __future__ import annotations

import logging
from typing import Protocol

import shapely

from services.catalogue.payload import ValidArea
from libs.domain import models, products, wkt
from libs.runtime.errors import InvalidArgument, Unavailable

logger = logging.getLogger(__name__)


class SceneSource(Protocol):
    def search(self, valid: ValidArea) -> tuple[list[models.CatalogScene], bool]: ...


def apply_common_attributes(area: models.Area, scenes: list[models.CatalogScene]) -> None:
    for scene in scenes:
        scene.aoi = area.name
        scene.data.graph_name = area.scene_graph_name
        scene.data.graph_config = dict(area.graph_config) if area.graph_config is not None else None
        scene.data.is_retriable = area.is_retriable
        scene.data.storage_uri = area.storage_uri
        for key, value in area.record_tags.items():
            scene.tags.setdefault(key, value)
        if len(area.annotations_urls) == 1:
            _set_download_link(area, scene)


def _set_download_link(area: models.Area, scene: models.CatalogScene) -> None:
    if scene.data.metadata and scene.data.metadata.get("download_link"):
        return
    try:
        info = products.product_info(scene.source_id)
    except products.ProductIdError:
        return
    link = products.format_brackets(area.annotations_urls[0], info, {"AREA": area.name})
    scene.data.metadata = {**(scene.data.metadata or {}), "download_link": link}


def remove_duplicates(scenes: list[models.CatalogScene]) -> list[models.CatalogScene]:
    """Scenes of one product (processing baselines masked) collapse to the latest ingested one, at the
    position of the first occurrence. Scenes without a product name are kept as they are (the reference
    collapses them all into one)."""
    kept: list[models.CatalogScene] = []
    by_name: dict[str, int] = {}
    for scene in scenes:
        _, name = products.autofill_tags(scene.source_id)
        if not name:
            kept.append(scene)
            continue
        index = by_name.get(name)
        if index is None:
            by_name[name] = len(kept)
            kept.append(scene)
        elif scene.tags.get("ingestionDate", "") > kept[index].tags.get("ingestionDate", ""):
            kept[index] = scene
    return kept


class SceneInventory:
    def __init__(self, sources: dict[products.Constellation, list[SceneSource]]):
        self._sources = sources

    def search(self, valid: ValidArea) -> tuple[list[models.CatalogScene], bool]:
        area, constellation = valid.area, valid.constellation
        sources = self._sources.get(constellation, [])
        if not sources:
            raise InvalidArgument(
                "scene_type.constellation",
                f"no catalog is configured for '{area.constellation}': no scene source is configured for"
                f" {constellation.value.lower()} (GEOCUBE_CATALOGUE_SCENE_SOURCES, …_ARCHIVE_PATH)",
            )
        failures = []
        for source in sources:
            try:
                scenes, has_next = source.search(valid)
                break
            except InvalidArgument:
                raise
            except Exception as exc:  # noqa: BLE001 — a source down: try the next one, report them all if none answers
                name = getattr(source, "name", type(source).__name__)
                logger.warning("scene source %s failed: %s", name, exc)
                # Remote sources already name themselves in their messages.
                failures.append(str(exc) if str(exc).startswith(f"{name}:") else f"{name}: {exc}")
        else:
            raise Unavailable("ScenesInventory: " + "\n ".join(failures))
        scenes = [s for s in remove_duplicates(scenes) if _intersects(s, valid.geometry)]
        apply_common_attributes(area, scenes)
        return scenes, has_next


def _intersects(scene: models.CatalogScene, geometry: shapely.Geometry) -> bool:
    if not scene.wkt:
        return True
    try:
        # The AOI first: it is prepared (payload.check_geometry), the footprints are not.
        return bool(geometry.intersects(wkt.from_wkt(scene.wkt)))
    except shapely.errors.ShapelyError:
        logger.warning("scene %s has an invalid footprint; kept", scene.source_id)
        return True
