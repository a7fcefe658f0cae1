"""The dashboard's dependency graph and its reads for a chained time series (each tile waits on the
previous date's), in Debian's headless Chromium against the real gateway and catalogue (no workers: the
scenes stay PENDING, their tiles NEW)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from gateway.app import serve
from gateway.settings import GatewaySettings
from services.catalogue.app import CatalogueApp
from tests.support.browser import WAIT_MS, chromium

TOKEN = "graph-token"
AOI = "SeriesDemo"
TIMEOUT = 30.0
DATES = ["2022-01-04T10:34:21Z", "2022-01-14T10:34:21Z", "2022-01-24T10:34:21Z"]


def _source_id(date: str) -> str:
    day = date[:10].replace("-", "")
    return f"S2A_MSIL1C_{day}T103421_N0301_R108_T32UNG_{day}T123645"


def _scene(date: str, previous: str | None) -> bytes:
    """A SceneToIngest (spec §1.10) whose one tile chains onto the same tile of `previous`."""
    link = {}
    if previous:
        link = {"previous_tile_id": "T32UNG", "previous_scene_id": previous,
                "reference_tile_id": "T32UNG", "reference_scene_id": previous}  # fmt: skip
    doc: dict[str, Any] = {
        "id": 0,
        "source_id": _source_id(date),
        "aoi": AOI,
        "data": {
            "date": date,
            "tiles": {"T32UNG": {"swath_id": "", "tile_nr": 0}},
            "graph_name": "CopyProductToStorage",
            "graph_config": {},
            "record_id": "",
            "metadata": {},
            "is_retriable": True,
            "storage_uri": "",
        },
        "tiles": {"T32UNG": {**link, "data": {"swath_id": "", "tile_nr": 0, "graph_name": "Pass"}}},
        "retry_count": 1,
    }
    return json.dumps(doc).encode()


@pytest.fixture
async def url(catalogue: CatalogueApp) -> AsyncIterator[str]:
    gateway = await asyncio.wait_for(
        serve(
            GatewaySettings(address="127.0.0.1:0", catalogue_address=catalogue.target, bearer_tokens=(TOKEN,))
        ),
        TIMEOUT,
    )
    try:
        yield gateway.url
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)


async def test_a_time_series_reads_left_to_right(url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=TIMEOUT) as http:
        assert (await http.post(f"/aoi/{AOI}")).status_code == 204  # scenes join an existing AOI
        previous = None
        for date in DATES:
            answer = await http.post(f"/aoi/{AOI}/scene", content=_scene(date, previous))
            assert answer.status_code == 200, answer.text
            previous = _source_id(date)
        scenes = (await http.get(f"/ui/api/aoi/{AOI}/scenes")).json()["scenes"]
        footprints = (await http.get(f"/ui/api/aoi/{AOI}/footprints")).json()
    tiles = [scene["tiles"][0] for scene in scenes]
    assert [t["previous_id"] for t in tiles] == [None, tiles[0]["id"], tiles[1]["id"]]
    assert [t["reference_id"] for t in tiles] == [None, tiles[0]["id"], tiles[1]["id"]]
    # Scenes ingested one by one carry no footprint: listed, not drawn.
    assert [(f["properties"]["id"], f["geometry"]) for f in footprints["features"]] == [
        (s["id"], None) for s in scenes
    ]

    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url + f"/ui#aoi={AOI}")
        await page.fill("#token", TOKEN)
        await page.click("#login button[type=submit]")
        # The bookmarked AOI opens after sign-in.
        await expect(page.locator("#aoi")).to_have_attribute("data-status", "PENDING")
        nodes = page.locator("#graph g.node")
        await expect(nodes).to_have_count(6)
        await expect(page.locator("#graph path.edge.owns")).to_have_count(3)
        previous_edges = page.locator("#graph path.edge.previous")
        await expect(previous_edges).to_have_count(2)
        links = {
            (await e.get_attribute("data-from"), await e.get_attribute("data-to"))
            for e in await previous_edges.all()
        }
        assert links == {
            (f"t{tiles[0]['id']}", f"t{tiles[1]['id']}"),
            (f"t{tiles[1]['id']}", f"t{tiles[2]['id']}"),
        }

        async def column(key: str) -> float:
            x = await page.locator(f"#graph g.node[data-key='{key}'] rect").first.get_attribute("x")
            return float(x or "nan")

        scene_columns = {await column(f"s{s['id']}") for s in scenes}
        tile_columns = [await column(f"t{t['id']}") for t in tiles]
        assert len(scene_columns) == 1  # every scene in the first column
        assert min(scene_columns) < tile_columns[0] < tile_columns[1] < tile_columns[2]
        await expect(page.locator("#graph g.node[data-status=NEW]")).to_have_count(3)
        await expect(page.locator("#map path")).to_have_count(0)
        await expect(page.locator("#failed-none")).to_be_visible()
        assert errors == []
