"""The dashboard's page, assets and JSON reads through the real gateway in front of the real catalogue
(real PostgreSQL, the demo archive as the scene source, no workers: queued tasks stay queued)."""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import shapely
import shapely.geometry

from gateway.app import serve
from gateway.settings import GatewaySettings
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive
from libs.stack import demo

TOKEN = "dashboard-token"
TIMEOUT = 30.0
AOI = "DenmarkDemoS2"


@pytest.fixture
async def http(pg_dsn: str, tmp_path: pathlib.Path) -> AsyncIterator[httpx.AsyncClient]:
    archive = tmp_path / "archive"
    # The archive is scanned when the catalogue starts: written first (in a thread, it encodes JP2s).
    await asyncio.to_thread(build_demo_archive, archive, count=3, band_size=16)
    catalogue = await asyncio.wait_for(
        catalogue_app.start(
            CatalogueSettings(database_dsn=pg_dsn, address="127.0.0.1:0", archive_path=str(archive))
        ),
        TIMEOUT,
    )
    gateway = await asyncio.wait_for(
        serve(
            GatewaySettings(address="127.0.0.1:0", catalogue_address=catalogue.target, bearer_tokens=(TOKEN,))
        ),
        TIMEOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as client:
            yield client
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)
        await asyncio.wait_for(catalogue.stop(grace=0.5), TIMEOUT)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _get(http: httpx.AsyncClient, path: str) -> Any:
    answer = await http.get(path, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


async def _ingest_demo(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Posts the demo payload as the README's curl sequence does; returns the searched scene features."""
    http.headers.update(AUTH)
    try:
        await demo.register_layers(http, json.loads(demo.PAYLOAD.read_text())["layers"])
        area = ("payload.json", demo.PAYLOAD.read_bytes(), "application/json")
        scenes = await http.post("/catalog/scenes", files={"area": area})
        assert scenes.status_code == 200, scenes.text
        ingested = await http.post("/catalog/aoi", files={"area": area, "scenes": ("s.json", scenes.content)})
        assert ingested.status_code == 200, ingested.text
        features: list[dict[str, Any]] = scenes.json()["features"]
        return features
    finally:
        del http.headers["Authorization"]


async def test_page_and_assets_are_public_and_the_data_is_not(http: httpx.AsyncClient) -> None:
    page = await http.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert '<form id="login"' in page.text
    for path in ("/ui/static/dashboard.js", "/ui/static/vendor/leaflet/leaflet.js"):
        asset = await http.get(path)
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"], path
    assert (
        (await http.get("/ui/static/vendor/leaflet/leaflet.css"))
        .headers["content-type"]
        .startswith("text/css")
    )
    # The gateway's own code is not served: `..` is cleaned away (a redirect, as the reference's router
    # does) before StaticFiles, which stays inside gateway/static, sees the path.
    escape = await http.get("/ui/static/%2e%2e/app.py", follow_redirects=True)
    assert escape.status_code == 404 and "import" not in escape.text
    assert (await http.get("/ui/static/app.py")).status_code == 404
    for path in (
        "/ui/api/aois",
        f"/ui/api/aoi/{AOI}",
        f"/ui/api/aoi/{AOI}/scenes",
        f"/ui/api/aoi/{AOI}/footprints",
    ):
        refused = await http.get(path)
        assert (refused.status_code, refused.text) == (403, '"token not found"\n'), path
        wrong = await http.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403, path


async def test_reads_of_an_ingested_aoi(http: httpx.AsyncClient) -> None:
    searched = await _ingest_demo(http)
    assert len(searched) == 3
    [summary] = await _get(http, "/ui/api/aois")
    assert summary == {
        "id": AOI,
        "status": "PENDING",
        "scenes": {"new": 0, "pending": 3, "done": 0, "retry": 0, "failed": 0, "total": 3},
        "tiles": {"new": 3, "pending": 0, "done": 0, "retry": 0, "failed": 0, "total": 3},
    }
    assert await _get(http, f"/ui/api/aoi/{AOI}") == summary

    scenes = (await _get(http, f"/ui/api/aoi/{AOI}/scenes"))["scenes"]
    assert sorted(s["source_id"] for s in scenes) == sorted(f["properties"]["source_id"] for f in searched)
    assert [s["id"] for s in scenes] == sorted(s["id"] for s in scenes)
    for scene in scenes:
        assert (scene["status"], scene["message"], scene["retry_countdown"]) == ("PENDING", "", 1)
        assert scene["date"].startswith("2022-01-")
        [tile] = scene["tiles"]
        assert (tile["scene_id"], tile["status"], tile["previous_id"]) == (scene["id"], "NEW", None)

    # Footprints: the geometry each scene was searched with, kept by its registry record.
    footprints = await _get(http, f"/ui/api/aoi/{AOI}/footprints")
    assert footprints["type"] == "FeatureCollection"
    by_source = {f["properties"]["source_id"]: f for f in footprints["features"]}
    assert sorted(by_source) == sorted(s["source_id"] for s in scenes)
    for feature in searched:
        mine = by_source[feature["properties"]["source_id"]]
        assert mine["id"] == mine["properties"]["id"]
        drawn = shapely.geometry.shape(mine["geometry"])
        assert drawn.equals(shapely.from_wkt(feature["properties"]["wkt"]))


async def test_status_changes_show_in_the_reads(http: httpx.AsyncClient) -> None:
    await _ingest_demo(http)
    first = (await _get(http, f"/ui/api/aoi/{AOI}/scenes"))["scenes"][0]
    # What the dashboard's Fail button sends: a PENDING scene fails, its NEW tile with it.
    failed = await http.put(f"/scene/{first['id']}/fail", headers=AUTH)
    assert failed.status_code == 200, failed.text
    scenes = {s["id"]: s for s in (await _get(http, f"/ui/api/aoi/{AOI}/scenes"))["scenes"]}
    assert scenes[first["id"]]["status"] == "FAILED"
    assert [t["status"] for t in scenes[first["id"]]["tiles"]] == ["FAILED"]
    summary = await _get(http, f"/ui/api/aoi/{AOI}")
    assert (summary["scenes"]["failed"], summary["scenes"]["pending"], summary["tiles"]["failed"]) == (
        1,
        2,
        1,
    )
    # A FAILED scene is not retried by the plain retry: the page shows the refusal (403 empty).
    retried = await http.put(f"/scene/{first['id']}/retry", headers=AUTH)
    assert (retried.status_code, retried.text) == (403, "")


async def test_bad_aoi_names_are_refused_clearly(http: httpx.AsyncClient) -> None:
    for path in ("/ui/api/aoi/Denmark*", "/ui/api/aoi/Den%3Fmark/scenes", "/ui/api/aoi/*/footprints"):
        answer = await http.get(path, headers=AUTH)
        assert answer.status_code == 400, path
        assert answer.text.startswith("aoi: one AOI id expected"), answer.text
    unknown = await http.get("/ui/api/aoi/Nowhere", headers=AUTH)
    assert (unknown.status_code, unknown.text) == (404, "aoi: unknown AOI 'Nowhere'")
    assert await _get(http, "/ui/api/aoi/Nowhere/scenes") == {"scenes": []}
    assert await _get(http, "/ui/api/aois") == []
