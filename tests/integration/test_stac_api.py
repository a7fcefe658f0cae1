"""STAC output end to end: demo scenes processed by the real workers, their items in the catalogue and on
storage; the gateway's STAC API checked by stac-api-validator and read back with pystac-client; the
static catalog checked by stac-validator and read back with pystac.

One pipeline run (module fixture) serves every test here: processing is the slow part.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import pathlib
import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import psycopg
import pystac
import pytest
from psycopg import sql
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension
from pystac_client import Client

from gateway.app import serve
from gateway.settings import GatewaySettings
from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, types_pb2
from libs.demo.archive import build_demo_archive
from services.downloader import worker as downloader
from services.processor import worker as processor
from tests.integration.test_workers import (
    BANDS,
    RPC_TIMEOUT,
    _all_done,
    _area,
    _create_band_instances,
    _downloader_settings,
    _processor_settings,
    aoi_final,
    running,
    running_catalogue,
)
from tests.support import stac_tools

AOI = "StacDemo"
TOKEN = "stac-test-token"
SCENES = 3
TIMEOUT = 60.0


@dataclasses.dataclass
class Stack:
    url: str  # the gateway
    storage: pathlib.Path
    channel: grpc.aio.Channel
    source_ids: list[str]
    catalogue_target: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


@contextlib.contextmanager
def _database(pg_server: str, pg_template: str):  # type: ignore[no-untyped-def]
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(pg_template)
            )
        )
    try:
        yield psycopg.conninfo.make_conninfo(pg_server, dbname=name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
async def stack(
    pg_server: str, pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("stac")
    archive = tmp / "archive"
    source_ids = build_demo_archive(archive, count=SCENES, band_size=64)
    with _database(pg_server, pg_template) as dsn:
        async with running_catalogue(dsn, archive) as (catalogue, channel):
            await _create_band_instances(channel)
            area = _area(
                AOI,
                "CopyProductToStorage",
                "library/graph/ExtractS2Bands.json",
                layers={band: types_pb2.Layer(variable=band, instance="raw") for band in BANDS},
            )
            stub = catalogue_pb2_grpc.CatalogueStub(channel)
            response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
            assert response.scene_count == SCENES
            async with (
                running(downloader.start(_downloader_settings(tmp, catalogue.target, archive))),
                running(processor.start(_processor_settings(tmp, catalogue.target))),
            ):
                await aoi_final(channel, AOI, 120)
                assert await _all_done(channel, AOI, SCENES), "every scene and tile DONE"
            settings = GatewaySettings(
                address="127.0.0.1:0", catalogue_address=catalogue.target, bearer_tokens=(TOKEN,)
            )
            gateway = await asyncio.wait_for(serve(settings), TIMEOUT)
            try:
                yield Stack(gateway.url, tmp / "storage", channel, source_ids, catalogue.target)
            finally:
                await asyncio.wait_for(gateway.stop(), TIMEOUT)


async def _get(stack: Stack, path: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url, timeout=TIMEOUT, headers=stack.headers) as client:
        return await client.get(path, **kw)  # type: ignore[arg-type]


async def test_static_catalog_is_valid_and_complete(stack: Stack) -> None:
    catalog_file = stack.storage / "catalog.json"
    result = await stac_tools.run_stac_validator(catalog_file)
    assert result.valid, result.report
    # Every object of the tree was validated: the catalog, the collection and one item per scene.
    assert result.validated >= 2 + SCENES, result.report

    catalog = pystac.Catalog.from_file(str(catalog_file))
    (collection,) = list(catalog.get_children())
    assert collection.id == AOI
    items = list(collection.get_items())
    assert sorted(i.id for i in items) == sorted(stack.source_ids)
    for item in items:
        assert item.datetime is not None and item.datetime.tzinfo is not None
        assert sorted(item.assets) == BANDS
        for name, asset in item.assets.items():
            # Relative hrefs resolve to the stored COGs beside the item.
            path = pathlib.Path(asset.get_absolute_href() or "")
            assert path.is_file() and path.name.endswith(f"_{name}.tif"), path
            assert asset.media_type == pystac.MediaType.COG
            assert (ProjectionExtension.ext(asset).code or "").startswith("EPSG:")
            (band,) = RasterExtension.ext(asset).bands or []
            assert band.data_type == "uint16"
            assert asset.extra_fields["eo:bands"][0]["name"] == name
    # The collection's extent covers its items.
    west, south, east, north = collection.extent.spatial.bboxes[0]
    for item in items:
        assert item.bbox is not None
        assert (
            west <= item.bbox[0] and south <= item.bbox[1] and item.bbox[2] <= east and item.bbox[3] <= north
        )


async def test_stac_api_passes_stac_api_validator(stack: Stack) -> None:
    items = (await _get(stack, "/stac/search", params={"limit": 1})).json()["features"]
    geometry = json.dumps(items[0]["geometry"])
    result = await stac_tools.run_stac_api_validator(f"{stack.url}/stac", AOI, geometry, TOKEN)
    assert result.valid, result.report


async def test_pystac_client_searches_and_pages(stack: Stack) -> None:
    client = await asyncio.to_thread(Client.open, f"{stack.url}/stac", headers=stack.headers)
    every = await asyncio.to_thread(lambda: list(client.search(collections=[AOI], max_items=100).items()))
    assert sorted(i.id for i in every) == sorted(stack.source_ids)

    # Paging: one item per page, next links followed by pystac-client.
    search = client.search(collections=[AOI], limit=1)
    pages = await asyncio.to_thread(lambda: [len(p.items) for p in search.pages()])
    assert pages == [1] * SCENES
    # Same with POST (pystac-client's default method when the API supports it) and GET.
    for method in ("GET", "POST"):
        paged = client.search(collections=[AOI], limit=2, method=method)
        ids = await asyncio.to_thread(lambda p=paged: [i.id for i in p.items()])
        assert sorted(ids) == sorted(stack.source_ids), method

    # ids
    chosen = every[0]
    found = await asyncio.to_thread(lambda: list(client.search(ids=[chosen.id]).items()))
    assert [i.id for i in found] == [chosen.id]

    # datetime: an interval around one scene's date keeps only the items of that date.
    when = chosen.datetime
    assert when is not None
    window = f"{(when - dt.timedelta(minutes=1)).isoformat()}/{(when + dt.timedelta(minutes=1)).isoformat()}"
    found = await asyncio.to_thread(lambda: list(client.search(datetime=window).items()))
    assert chosen.id in [i.id for i in found]
    assert all(i.datetime == when for i in found)
    # bbox: a box inside one item's footprint finds it; one far away finds nothing.
    assert chosen.bbox is not None
    west, south, east, north = chosen.bbox
    inner = [
        west + (east - west) / 3,
        south + (north - south) / 3,
        east - (east - west) / 3,
        north - (north - south) / 3,
    ]
    found = await asyncio.to_thread(lambda: list(client.search(bbox=inner).items()))
    assert chosen.id in [i.id for i in found]
    far = await asyncio.to_thread(lambda: list(client.search(bbox=[-70, -50, -69, -49]).items()))
    assert far == []
    # The item read back is the one the processor built: same assets, hrefs are the stored URIs.
    item = await asyncio.to_thread(lambda: client.get_collection(AOI).get_item(chosen.id))
    assert item is not None and sorted(item.assets) == BANDS
    assert all(pathlib.Path(a.href.removeprefix("file://")).is_file() for a in item.assets.values())


async def test_stac_api_errors_are_clear(stack: Stack) -> None:
    bad = await _get(stack, "/stac/search", params={"bbox": "1,2,3"})
    assert bad.status_code == 400 and "bbox" in bad.json()["description"]
    bad = await _get(stack, "/stac/search", params={"datetime": "yesterday"})
    assert bad.status_code == 400 and "datetime" in bad.json()["description"]
    bad = await _get(stack, "/stac/search", params={"token": "not-a-token"})
    assert bad.status_code == 400 and "token" in bad.json()["description"]
    bad = await _get(stack, "/stac/search", params={"limit": "0"})
    assert bad.status_code == 400 and "limit" in bad.json()["description"]
    bad = await _get(stack, "/stac/search", params={"colections": AOI})
    assert bad.status_code == 400 and "colections" in bad.json()["description"]
    # Refused by the catalogue (INVALID_ARGUMENT through the error table), still a 400 naming the field.
    bad = await _get(stack, "/stac/search", params={"bbox": "10,0,5,1"})
    assert bad.status_code == 400 and "bbox" in bad.json()["description"]
    bad = await _get(
        stack, "/stac/search", params={"intersects": '{"type": "Polygon", "coordinates": [[1]]}'}
    )
    assert bad.status_code == 400 and "intersects" in bad.json()["description"]
    # Values Python refuses with other exceptions than ValueError (were 500s).
    bad = await _get(stack, "/stac/search", params={"limit": "9" * 5000})
    assert bad.status_code == 400 and "limit" in bad.json()["description"]
    bad = await _get(stack, "/stac/search", params={"datetime": "9999-12-31T23:59:59-01:00"})
    assert bad.status_code == 400 and "datetime" in bad.json()["description"]
    async with httpx.AsyncClient(base_url=stack.url, timeout=TIMEOUT, headers=stack.headers) as client:
        deep = await client.post("/stac/search", content=b"[" * 100_000)
    assert deep.status_code == 400 and "JSON" in deep.json()["description"]
    missing = await _get(stack, "/stac/collections/NoSuchAoi")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    missing = await _get(stack, f"/stac/collections/{AOI}/items/nope")
    assert missing.status_code == 404
    async with httpx.AsyncClient(base_url=stack.url, timeout=TIMEOUT) as anonymous:
        assert (await anonymous.get("/stac/search")).status_code == 403
        assert (await anonymous.get("/stac/collections")).status_code == 403


async def test_links_follow_the_public_url_behind_a_proxy(stack: Stack) -> None:
    public = "https://example.org/ingester"
    settings = GatewaySettings(
        address="127.0.0.1:0",
        catalogue_address=stack.catalogue_target,
        bearer_tokens=(TOKEN,),
        public_url=public,
    )
    gateway = await asyncio.wait_for(serve(settings), TIMEOUT)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT, headers=stack.headers) as client:
            landing = (await client.get("/stac")).json()
            page = (await client.get("/stac/search", params={"limit": 1})).json()
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)
    assert {link["href"] for link in landing["links"]} >= {f"{public}/stac", f"{public}/stac/search"}
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert links["self"] == f"{public}/stac/search?limit=1"
    assert links["next"].startswith(f"{public}/stac/search?limit=1&token=")
    (feature,) = page["features"]
    assert feature["links"][0]["href"].startswith(f"{public}/stac/collections/{AOI}/items/")
