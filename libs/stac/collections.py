"""STAC Collections (one per AOI) and the root Catalog, built with pystac from the catalogue's summaries.

Shared by the static catalog writer (libs/stac/static.py) and the gateway's STAC API, so both
describe a collection the same way. Light: no raster I/O here (the gateway imports it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pystac

CATALOG_ID = "geocube-ingester"
CATALOG_TITLE = "geocube-ingester outputs"
CATALOG_DESCRIPTION = "Layers processed and indexed by geocube-ingester, one collection per AOI."
# The outputs carry no licence of their own: "other" is STAC 1.1's word for "see the data provider".
LICENSE = "other"
WORLD = [-180.0, -90.0, 180.0, 90.0]


def build_collection(
    collection_id: str,
    bbox: Sequence[float] | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> pystac.Collection:
    """The collection of an AOI; its extent is the union of its items' (the world when unknown)."""
    extent = pystac.Extent(
        pystac.SpatialExtent([list(bbox) if bbox else WORLD]),
        pystac.TemporalExtent([[start, end]]),
    )
    return pystac.Collection(
        id=collection_id,
        title=f"AOI {collection_id}",
        description=f"Layers processed by geocube-ingester for the AOI {collection_id}: one item per tile"
        " of a scene, one asset per indexed file.",
        extent=extent,
        license=LICENSE,
        catalog_type=pystac.CatalogType.SELF_CONTAINED,
    )


def build_catalog() -> pystac.Catalog:
    return pystac.Catalog(
        id=CATALOG_ID,
        description=CATALOG_DESCRIPTION,
        title=CATALOG_TITLE,
        catalog_type=pystac.CatalogType.SELF_CONTAINED,
    )
