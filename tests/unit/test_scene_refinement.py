"""Scene refinements of the inventory (spec §3.1, sentinel1-bursts §3.1) on Sentinel-1 search results:
duplicates collapse to the latest ingestion; products crossing the ANX and slice gaps are kept (the
reference rejects the whole inventory: docs/compatibility.md C31)."""

from __future__ import annotations

import datetime as dt

from services.catalogue import payload
from services.catalogue.search.inventory import SceneInventory
from libs.domain import models, products

WKT = "POLYGON((9 54, 11 54, 11 56, 9 56, 9 54))"


class ListedScenes:
    """A scene source answering a fixed list, as a remote catalogue would."""

    name = "listed"

    def __init__(self, scenes: list[models.CatalogScene]):
        self.scenes = scenes

    def search(self, valid: payload.ValidArea) -> tuple[list[models.CatalogScene], bool]:
        return list(self.scenes), False


def s1(name: str, **tags: str) -> models.CatalogScene:
    date = dt.datetime.strptime(name[17:32], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return models.CatalogScene(source_id=name, data=models.SceneAttrs(date=date), tags=dict(tags), wkt=WKT)


def test_s1_refinements() -> None:
    crossing = s1("S1A_IW_SLC__1SDV_20250406T022008_20250406T022035_058630_07421F_93A7",
                  relativeOrbit="175", lastRelativeOrbit="1", sliceNumber="1")  # fmt: skip
    gap = s1("S1A_IW_SLC__1SDV_20250406T022100_20250406T022127_058630_07421F_A0B1",
             relativeOrbit="175", lastRelativeOrbit="1", sliceNumber="3")  # fmt: skip
    old = s1("S1A_IW_SLC__1SDV_20250418T022008_20250418T022035_058805_074946_C7D4",
             relativeOrbit="108", ingestionDate="2025-04-18T05:00:00")  # fmt: skip
    reprocessed = s1("S1A_IW_SLC__1SDV_20250418T022008_20250418T022035_058805_074946_FFFF",
                     relativeOrbit="108", ingestionDate="2025-05-01T05:00:00")  # fmt: skip
    inventory = SceneInventory({products.Constellation.SENTINEL1: [ListedScenes([crossing, gap, old, reprocessed])]})
    area = models.Area(
        name="a", geometry_wkt=WKT, constellation="sentinel1",
        start_time=dt.datetime(2025, 4, 1, tzinfo=dt.UTC), end_time=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    scenes, _ = inventory.search(payload.for_search(area))
    assert [s.source_id for s in scenes] == [crossing.source_id, gap.source_id, reprocessed.source_id]
