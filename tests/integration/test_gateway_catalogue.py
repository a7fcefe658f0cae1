"""The gateway in front of the real catalogue: HTTP over a socket, real gRPC, real PostgreSQL and the demo
archive as the scene source. Payloads are posted exactly as `curl -F area=@DenmarkDemoS2.json` does."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import serve
from gateway.settings import GatewaySettings
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference"
S2_PAYLOAD = (FIXTURES / "DenmarkDemoS2.json").read_bytes()
BANDS = [f"B{i:02d}" for i in range(1, 13)]
TOKEN = "integration-token"
TIMEOUT = 30.0


class Stack:
    def __init__(self, http: httpx.AsyncClient, source_ids: list[str]) -> None:
        self.http = http
        self.source_ids = source_ids

    async def post_form(self, path: str, **parts: bytes) -> httpx.Response:
        """A multipart POST with one file part per field, as `curl -F name=@file`."""
        files = {
            name: (f"{name}.json", content, "application/octet-stream") for name, content in parts.items()
        }
        return await self.http.post(path, files=files)


@pytest.fixture
async def stack(pg_dsn: str, tmp_path: pathlib.Path) -> AsyncIterator[Stack]:
    archive = tmp_path / "archive"
    # The archive is scanned when the catalogue starts: write it first (in a thread, it encodes JP2s).
    source_ids = await asyncio.to_thread(build_demo_archive, archive, count=4, band_size=16)
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
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=TIMEOUT) as http:
            yield Stack(http, source_ids)
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)
        await asyncio.wait_for(catalogue.stop(grace=0.5), TIMEOUT)


async def _register_bands(stack: Stack) -> None:
    for band in BANDS:
        created = await stack.http.post(
            "/registry/variables", json={"name": band, "unit": "", "dtype": "uint16"}
        )
        assert created.status_code == 201, created.text
        instance = await stack.http.post(f"/registry/variables/{band}/instances", json={"name": "raw"})
        assert instance.status_code == 201, instance.text


def _json(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.text.endswith("\n")
    return json.loads(response.text)


async def test_registry_endpoints(stack: Stack) -> None:
    await _register_bands(stack)
    variables = _json(await stack.http.get("/registry/variables"))
    assert [v["name"] for v in variables] == BANDS
    assert all([i["name"] for i in v["instances"]] == ["raw"] for v in variables)
    again = await stack.http.post("/registry/variables", json={"name": "B01"})
    assert again.status_code == 409
    unknown = await stack.http.post("/registry/variables/nope/instances", json={"name": "raw"})
    assert unknown.status_code == 404 and unknown.text


async def test_scene_search_returns_the_archive(stack: Stack) -> None:
    answer = await stack.post_form("/catalog/scenes", area=S2_PAYLOAD)
    collection = _json(answer)
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert collection["type"] == "FeatureCollection"
    assert collection["properties"] == {"next": "false"}
    features = collection["features"]
    assert [f["id"] for f in features] == list(range(len(stack.source_ids)))
    assert sorted(f["properties"]["source_id"] for f in features) == sorted(stack.source_ids)
    for feature in features:
        props = feature["properties"]
        assert list(props) == sorted(props)
        assert list(props["data"]) == sorted(props["data"])
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert props["wkt"]
    paged = _json(
        await stack.http.post("/catalog/scenes?page=0&limit=2", files={"area": ("a.json", S2_PAYLOAD)})
    )
    assert len(paged["features"]) == 2 and paged["properties"] == {"next": "true"}


async def test_ingestion_then_monitoring(stack: Stack) -> None:
    await _register_bands(stack)
    answer = await stack.post_form("/catalog/aoi", area=S2_PAYLOAD)
    assert answer.status_code == 200, answer.text
    count = len(stack.source_ids)
    assert re.fullmatch(
        rf"Ingestion of {count} scenes and {count} tiles in progress \([0-9.]+(ns|µs|ms|s|m[0-9.]+s)\)\n",
        answer.text,
    )

    aois = _json(await stack.http.get("/aoi/"))
    assert [a["ID"] for a in aois] == ["DenmarkDemoS2"]
    assert _json(await stack.http.get("/aoi/Denmark*")) == aois

    report = await stack.http.get("/aoi/DenmarkDemoS2")
    assert report.status_code == 200
    assert f"Scenes:\n  new:     0\n  pending: {count}\n" in report.text
    assert f"Tiles:\n  new:     {count}\n" in report.text

    scenes = _json(await stack.http.get("/aoi/DenmarkDemoS2/scenes"))
    assert sorted(s["source_id"] for s in scenes) == sorted(stack.source_ids)
    assert _json(await stack.http.get("/aoi/DenmarkDemoS2/scenes/PENDING")) == scenes
    assert _json(await stack.http.get("/aoi/DenmarkDemoS2/scenes/pending")) == []
    assert len(_json(await stack.http.get("/aoi/DenmarkDemoS2/scenes?page=0&limit=1"))) == 1
    for scene in scenes:
        assert list(scene) == ["id", "source_id", "aoi", "data", "status", "message", "RetryCountDown"]
        assert scene["status"] == "PENDING" and scene["RetryCountDown"] == 1
        assert sorted(scene["data"]["instances_id"]) == BANDS
        assert scene["data"]["record_id"]
        assert _json(await stack.http.get(f"/scene/{scene['id']}")) == scene
        tiles = _json(await stack.http.get(f"/scene/{scene['id']}/tiles"))
        assert len(tiles) == 1 and tiles[0]["status"] == "NEW"
        assert list(tiles[0]) == [
            "id", "source_id", "scene", "data", "status", "message", "PreviousID", "ReferenceID", "RetryCountDown"
        ]  # fmt: skip
        tile = _json(await stack.http.get(f"/tile/{tiles[0]['id']}"))
        assert tile["scene"]["source_id"] == scene["source_id"]
        records = _json(await stack.http.get("/registry/records", params={"name": scene["source_id"]}))
        assert [r["id"] for r in records] == [scene["data"]["record_id"]]

    assert (await stack.http.get("/scene/999999")).status_code == 404
    assert (await stack.http.get("/tile/999999")).status_code == 404

    again = await stack.post_form("/catalog/aoi", area=S2_PAYLOAD)
    assert again.status_code == 200 and again.text.startswith(
        "Ingestion of 0 scenes and 0 tiles in progress ("
    )


async def test_search_tile_then_ingest_the_uploaded_tiles(stack: Stack) -> None:
    await _register_bands(stack)
    scenes = await stack.post_form("/catalog/scenes", area=S2_PAYLOAD)
    assert scenes.status_code == 200
    tiled = await stack.post_form("/catalog/tiles", area=S2_PAYLOAD, scenes=scenes.content)
    collection = _json(tiled)
    assert "properties" not in collection
    assert all(f["properties"]["tiles"] for f in collection["features"])
    ingested = await stack.post_form("/catalog/aoi", area=S2_PAYLOAD, tiles=tiled.content)
    count = len(stack.source_ids)
    assert ingested.status_code == 200, ingested.text
    assert ingested.text.startswith(f"Ingestion of {count} scenes and {count} tiles in progress (")


async def test_ingestion_validation_errors_are_400(stack: Stack) -> None:
    # No variables registered: the layers cannot be resolved.
    answer = await stack.post_form("/catalog/aoi", area=S2_PAYLOAD)
    assert answer.status_code == 400
    assert "B01" in answer.text
    unnamed = S2_PAYLOAD.replace(b'"name":"DenmarkDemoS2"', b'"name":"bad name"')
    assert (await stack.post_form("/catalog/aoi", area=unnamed)).status_code == 400
    assert _json(await stack.http.get("/aoi/")) == []


async def test_sentinel1_area_without_a_sentinel1_source_says_so(stack: Stack) -> None:
    """The default source (the archive) holds only Sentinel-2 products: a Sentinel-1 search is refused
    naming what is missing, instead of answering 200 with no scene."""
    payload = json.loads(S2_PAYLOAD)
    payload["scene_type"]["constellation"] = "sentinel1"
    answer = await stack.post_form("/catalog/scenes", area=json.dumps(payload).encode())
    assert answer.status_code == 400, answer.text
    assert "no scene source is configured for sentinel1" in answer.text
    assert "GEOCUBE_CATALOGUE_SCENE_SOURCES" in answer.text and "/archive" not in answer.text
    # Sentinel-2 is still served by the same archive.
    assert len(_json(await stack.post_form("/catalog/scenes", area=S2_PAYLOAD))["features"]) == 4


ZERO_TIME = "0001-01-01T00:00:00Z"


async def test_undated_scenes_keep_the_zero_date_through_tiling_and_ingestion(stack: Stack) -> None:
    """Issue 15: the zero date (the reference's "no date") is an unset Timestamp in every hop (gateway ->
    catalogue -> tiling -> gateway, and through the database), never epoch 0."""
    await _register_bands(stack)
    searched = _json(await stack.post_form("/catalog/scenes", area=S2_PAYLOAD))
    for feature in searched["features"]:
        feature["properties"]["data"]["date"] = ZERO_TIME
    undated = json.dumps(searched).encode()

    tiled = await stack.post_form("/catalog/tiles", area=S2_PAYLOAD, scenes=undated)
    features = _json(tiled)["features"]
    assert len(features) == len(stack.source_ids)
    for feature in features:
        props = feature["properties"]
        assert props["data"]["date"] == ZERO_TIME
        assert [tile["Date"] for tile in props["tiles"]] == [ZERO_TIME]
    # An uploaded collection prints back identically (docs/compatibility.md G29).
    again = await stack.post_form("/catalog/tiles", area=S2_PAYLOAD, scenes=tiled.content)
    assert again.status_code == 200 and again.text == tiled.text

    ingested = await stack.post_form("/catalog/aoi", area=S2_PAYLOAD, tiles=tiled.content)
    assert ingested.status_code == 200, ingested.text
    stored = _json(await stack.http.get("/aoi/DenmarkDemoS2/scenes"))
    assert sorted(s["source_id"] for s in stored) == sorted(stack.source_ids)
    assert {s["data"]["date"] for s in stored} == {ZERO_TIME}
    tiles = _json(await stack.http.get(f"/scene/{stored[0]['id']}/tiles"))
    assert [t["scene"]["data"]["date"] for t in tiles] == [ZERO_TIME]
    report = await stack.http.get("/aoi/DenmarkDemoS2")
    assert report.status_code == 200, report.text
    assert "From: 0001-01-01\n" in report.text


async def test_nul_characters_are_400_naming_the_field(stack: Stack) -> None:
    # The gateway refuses them first (G42), the catalogue's request checks too for gRPC clients (G39):
    # either way before PostgreSQL does.
    report = await stack.http.get("/aoi/a%00b")
    assert (report.status_code, report.text) == (
        400,
        "path parameter 'aoi': the NUL character (\\u0000) is not allowed",
    )
    searched = _json(await stack.post_form("/catalog/scenes", area=S2_PAYLOAD))
    searched["features"][1]["properties"]["data"]["metadata"] = {"note": "a\u0000b"}
    tiled = await stack.post_form("/catalog/tiles", area=S2_PAYLOAD, scenes=json.dumps(searched).encode())
    assert tiled.status_code == 400
    assert "scenes: field 'features[1].properties.data.metadata.note': the NUL character" in tiled.text
