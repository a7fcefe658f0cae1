"""Publishing to an external STAC API with the Transactions extension, end to end against a real
stac-fastapi-pgstac over PostgreSQL/PostGIS (tests/support/pgstac_api.py), read back with pystac-client.

The publisher upserts (a redo replaces, never duplicates), widens a published collection's extent,
tells transient failures from refusals; the processor publishes every indexed file after indexing and
gets past an outage of the API (temporary failures, then DONE once it is back)."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
from collections.abc import AsyncIterator, Iterator

import pystac
import pystac_client
import pytest

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, types_pb2
from services.downloader import worker as downloader
from services.processor import worker as processor
from libs.stac.publishing import collection_of
from libs.stac.transactions import PublishError, StacTransactions
from libs.stack.processes import free_port
from tests.integration.test_workers import (
    BANDS,
    RPC_TIMEOUT,
    _all_done,
    _area,
    _create_band_instances,
    _downloader_settings,
    _processor_settings,
    _scenes,
    aoi_final,
    demo_archive,
    running,
    running_catalogue,
    wait_for,
)
from tests.support.pgstac_api import PgstacApi, configured_server_dsn, missing_requirements, pgstac_database
from tests.support.postgis_server import PostgisServer

pytestmark = pytest.mark.timeout(300)
__all__ = ["demo_archive"]  # the session fixture, shared with test_workers


@pytest.fixture(scope="session")
def postgis_server_dsn() -> Iterator[str]:
    """GEOCUBE_TEST_PGSTAC_DSN when set; otherwise a private PostGIS server for the session (a fresh
    machine has no PostgreSQL running: the suite brings up what it needs, never skips)."""
    configured = configured_server_dsn()
    if configured:
        yield configured
        return
    server = PostgisServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def pgstac_dsn(postgis_server_dsn: str) -> AsyncIterator[str]:
    assert not missing_requirements(), missing_requirements()
    async with pgstac_database(postgis_server_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def stac_api(pgstac_dsn: str) -> AsyncIterator[PgstacApi]:
    api = PgstacApi(pgstac_dsn, free_port())
    await api.start()
    yield api
    await api.stop()


def _item(item_id: str, collection: str, x: float, when: dt.datetime, **properties: object) -> pystac.Item:
    box = [x, 55.0, x + 0.1, 55.1]
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]], [box[0], box[1]]]
        ],
    }
    item = pystac.Item(item_id, geometry, box, when, dict(properties), collection=collection)
    item.add_asset(
        "data", pystac.Asset(f"/data/{item_id}.tif", media_type=pystac.MediaType.COG, roles=["data"])
    )
    return item


def _read(api: PgstacApi, collection: str) -> list[pystac.Item]:
    client = pystac_client.Client.open(api.url)
    return sorted(client.search(collections=[collection]).items(), key=lambda i: i.id)


async def test_publishing_upserts_collection_and_items(stac_api: PgstacApi) -> None:
    day = dt.datetime(2022, 1, 3, tzinfo=dt.UTC)
    items = [_item("a", "PubAoi", 10.0, day, version=1), _item("b", "PubAoi", 10.2, day, version=1)]
    publisher = StacTransactions(stac_api.url)
    try:
        assert await publisher.publish(collection_of("PubAoi", items), items) == (2, 0)
        # A redo (the task leased again): the same ids are replaced, nothing is duplicated.
        redo = [_item("a", "PubAoi", 10.0, day, version=2), _item("b", "PubAoi", 10.2, day, version=2)]
        assert await publisher.publish(collection_of("PubAoi", redo), redo) == (0, 2)
        # Another tile later and further east: a new item, and the collection's extent widened.
        later = [_item("c", "PubAoi", 11.0, dt.datetime(2022, 2, 1, tzinfo=dt.UTC), version=1)]
        assert await publisher.publish(collection_of("PubAoi", later), later) == (1, 0)
    finally:
        await publisher.close()

    found = await asyncio.to_thread(_read, stac_api, "PubAoi")
    assert [(i.id, i.properties["version"]) for i in found] == [("a", 2), ("b", 2), ("c", 1)]
    assert found[0].assets["data"].href == "/data/a.tif"
    collection = (await asyncio.to_thread(pystac_client.Client.open, stac_api.url)).get_collection("PubAoi")
    assert collection is not None
    assert collection.extent.spatial.bboxes[0] == pytest.approx([10.0, 55.0, 11.1, 55.1])
    start, end = collection.extent.temporal.intervals[0]
    assert (start, end) == (day, dt.datetime(2022, 2, 1, tzinfo=dt.UTC))


async def test_transient_failures_and_refusals_are_told_apart(stac_api: PgstacApi) -> None:
    down = StacTransactions(f"http://127.0.0.1:{free_port()}/", timeout=5)
    try:
        with pytest.raises(PublishError) as caught:
            await down.upsert_collection(collection_of("X", []))
        assert caught.value.temporary
    finally:
        await down.close()
    publisher = StacTransactions(stac_api.url)
    try:
        when = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
        await publisher.upsert_collection(collection_of("Refusals", [_item("ok", "Refusals", 10, when)]))
        bad = _item("bad", "Refusals", 10.0, when)
        bad.geometry = {"type": "Polygon", "coordinates": [[[10, 55]]]}  # not a ring: the API refuses it
        with pytest.raises(PublishError) as caught:
            await publisher.upsert_item(bad)
        assert not caught.value.temporary and "POST collections/Refusals/items: 4" in str(caught.value)
    finally:
        await publisher.close()


async def _ingest_bands(channel, aoi: str) -> types_pb2.Scene:  # type: ignore[no-untyped-def]
    await _create_band_instances(channel)
    area = _area(
        aoi,
        "CopyProductToStorage",
        "library/graph/ExtractS2Bands.json",
        limit=1,
        layers={band: types_pb2.Layer(variable=band, instance="raw") for band in BANDS},
    )
    stub = catalogue_pb2_grpc.CatalogueStub(channel)
    response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
    assert response.scene_count == 1
    (scene,) = await _scenes(channel, aoi)
    return scene


def _check_published(api: PgstacApi, scene: types_pb2.Scene, folder: pathlib.Path, aoi: str) -> None:
    """The tile's item (libs/stac/items.py: one per tile, one asset per indexed band) in the API."""
    (item,) = _read(api, aoi)
    date = scene.data.date.ToDatetime(tzinfo=dt.UTC)
    assert item.id == scene.source_id and item.collection_id == aoi and item.datetime == date
    assert sorted(item.assets) == BANDS
    for band, asset in item.assets.items():
        assert asset.href == str(folder / f"{date:%Y%m%d}_{scene.source_id}_{band}.tif")
        assert asset.media_type == pystac.MediaType.COG
    assert item.properties["ingester:record_id"] == scene.data.record_id
    assert item.bbox is not None and -180 <= item.bbox[0] < item.bbox[2] <= 180
    collection = pystac_client.Client.open(api.url).get_collection(aoi)
    assert collection is not None
    assert collection.extent.spatial.bboxes[0] == pytest.approx(item.bbox)


async def test_the_processor_publishes_what_it_indexed(
    pg_dsn: str,
    demo_archive: tuple[pathlib.Path, list[str]],
    tmp_path: pathlib.Path,
    stac_api: PgstacApi,
) -> None:
    archive, _ = demo_archive
    async with running_catalogue(pg_dsn, archive) as (catalogue, channel):
        scene = await _ingest_bands(channel, "PubBands")
        settings = _processor_settings(tmp_path, catalogue.target, stac_publish_url=stac_api.url)
        async with (
            running(downloader.start(_downloader_settings(tmp_path, catalogue.target, archive))),
            running(processor.start(settings)),
        ):
            await aoi_final(channel, "PubBands", 120)
            assert await _all_done(channel, "PubBands", 1), "the scene and its tile DONE"
    folder = tmp_path / "storage" / "PubBands" / scene.source_id / "tiles" / scene.source_id
    await asyncio.to_thread(_check_published, stac_api, scene, folder, "PubBands")


async def test_an_outage_of_the_stac_api_is_retried_until_it_is_back(
    pg_dsn: str,
    demo_archive: tuple[pathlib.Path, list[str]],
    tmp_path: pathlib.Path,
    pgstac_dsn: str,
) -> None:
    archive, _ = demo_archive
    api = PgstacApi(pgstac_dsn, free_port())  # not started yet: the API is down
    # An outage must not use up the tile's attempts before the API is back.
    async with running_catalogue(pg_dsn, archive, max_attempts=1000) as (catalogue, channel):
        scene = await _ingest_bands(channel, "PubOutage")
        settings = _processor_settings(tmp_path, catalogue.target, stac_publish_url=api.url)
        try:
            async with (
                running(downloader.start(_downloader_settings(tmp_path, catalogue.target, archive))),
                running(processor.start(settings)) as worker,
            ):

                async def failed_temporarily() -> bool:
                    return worker.status().tasks_failed >= 1

                await wait_for(failed_temporarily, "a publication failing while the STAC API is down", 120)
                await api.start()
                await aoi_final(channel, "PubOutage", 180)
                assert await _all_done(channel, "PubOutage", 1), "the tile DONE once the API is back"
            folder = tmp_path / "storage" / "PubOutage" / scene.source_id / "tiles" / scene.source_id
            await asyncio.to_thread(_check_published, api, scene, folder, "PubOutage")
        finally:
            await api.stop()
