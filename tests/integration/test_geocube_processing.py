"""Processing into a Geocube server: the real catalogue, downloader and processor, with
GEOCUBE_*_GEOCUBE_SERVER pointing at a loopback server speaking the Geocube's gRPC API.

Every `to_index` output is indexed there (one container per stored file, under the scene's record and the
layer's instance, with the graph's pixel format), and an outage of the Geocube during indexation is a
temporary failure: the task goes back to the queue and the tile ends DONE once the Geocube is back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest

from protos.geocube.v1 import geocube_pb2
from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, registry_pb2, registry_pb2_grpc, types_pb2
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from services.downloader import worker as downloader
from services.processor import worker as processor
from tests.integration.test_workers import (
    BANDS,
    RPC_TIMEOUT,
    _all_done,
    _area,
    _downloader_settings,
    _processor_settings,
    _scenes,
    _tiles,
    aoi_final,
    demo_archive,
    running,
    wait_for,
)
from tests.support.geocube_server import FakeGeocube

pytestmark = pytest.mark.timeout(240)
__all__ = ["demo_archive"]  # the session fixture, shared with test_workers
GEOCUBE = {"geocube_insecure": True, "geocube_token": "processing-key", "geocube_timeout": 5.0}


@pytest.fixture
async def geocube() -> AsyncIterator[FakeGeocube]:
    server = FakeGeocube(token=GEOCUBE["geocube_token"])  # type: ignore[arg-type]
    for band in BANDS:
        server.add_variable(band, ["raw"])
    await server.start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def catalogue_with(
    pg_dsn: str, archive: pathlib.Path, geocube: FakeGeocube
) -> AsyncIterator[tuple[catalogue_app.CatalogueApp, grpc.aio.Channel]]:
    settings = CatalogueSettings(
        database_dsn=pg_dsn,
        address="127.0.0.1:0",
        archive_path=str(archive),
        geocube_server=geocube.address,
        # An outage must not use up the tile's attempts before the test brings the Geocube back.
        max_attempts=1000,
        **GEOCUBE,  # type: ignore[arg-type]
    )
    app = await asyncio.wait_for(catalogue_app.start(settings), 60)
    channel = grpc.aio.insecure_channel(app.target)
    try:
        yield app, channel
    finally:
        await channel.close()
        await asyncio.wait_for(app.stop(), 30)


async def _ingest_one(channel: grpc.aio.Channel, aoi: str) -> types_pb2.Scene:
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


def _check_indexed(geocube: FakeGeocube, scene: types_pb2.Scene, folder: pathlib.Path) -> None:
    # The storage root is a plain path (the processor settings): URIs are the stored files' paths.
    date = scene.data.date.ToDatetime().strftime("%Y%m%d")
    stored = {str(folder / f"{date}_{scene.source_id}_{band}.tif"): band for band in BANDS}
    assert sorted(geocube.containers) == sorted(stored)
    assert all(pathlib.Path(uri).is_file() for uri in stored)
    for uri, container in geocube.containers.items():
        band = stored[uri]
        assert container.managed
        (dataset,) = container.datasets
        assert dataset.record_id == scene.data.record_id
        assert dataset.instance_id == geocube.instance_id(band, "raw")
        assert list(dataset.bands) == [1] and dataset.container_subdir == ""
        assert dataset.dformat.dtype == geocube_pb2.DataFormat.UInt16 and dataset.dformat.max_value == 32767
        assert (dataset.real_min_value, dataset.real_max_value, dataset.exponent) == (0, 1, 1)
    assert "processingDate" in geocube.records[scene.data.record_id].tags


async def test_outputs_are_indexed_in_the_geocube(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path, geocube: FakeGeocube
) -> None:
    archive, _ = demo_archive
    async with catalogue_with(pg_dsn, archive, geocube) as (catalogue, channel):
        scene = await _ingest_one(channel, "GcIndex")
        assert scene.data.record_id in geocube.records
        async with (
            running(downloader.start(_downloader_settings(tmp_path, catalogue.target, archive))),
            running(
                processor.start(
                    _processor_settings(tmp_path, catalogue.target, geocube_server=geocube.address, **GEOCUBE)
                )
            ),
        ):
            await aoi_final(channel, "GcIndex", 120)
            assert await _all_done(channel, "GcIndex", 1), "the scene and its tile DONE"

        folder = tmp_path / "storage" / "GcIndex" / scene.source_id / "tiles" / scene.source_id
        _check_indexed(geocube, scene, folder)
        assert geocube.calls["IndexDatasets"] == len(BANDS)
        # Indexed in the Geocube, not in the built-in registry.
        registry = registry_pb2_grpc.RegistryStub(channel)
        listed = await registry.ListDatasets(registry_pb2.ListDatasetsRequest(), timeout=RPC_TIMEOUT)
        assert list(listed.datasets) == []
        # The tile's STAC item is still served by the catalogue, naming the Geocube's record.
        found = await registry.SearchItems(
            registry_pb2.SearchItemsRequest(collections=["GcIndex"]), timeout=RPC_TIMEOUT
        )
        (item,) = [json.loads(text) for text in found.items_json]
        assert item["properties"]["ingester:record_id"] == scene.data.record_id
        assert sorted(item["assets"]) == BANDS


async def test_a_geocube_outage_is_retried_until_it_is_back(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path, geocube: FakeGeocube
) -> None:
    archive, _ = demo_archive
    async with catalogue_with(pg_dsn, archive, geocube) as (catalogue, channel):
        scene = await _ingest_one(channel, "GcOutage")
        await geocube.stop()
        settings = _processor_settings(tmp_path, catalogue.target, geocube_server=geocube.address, **GEOCUBE)
        async with (
            running(downloader.start(_downloader_settings(tmp_path, catalogue.target, archive))),
            running(processor.start(settings)) as worker,
        ):

            async def failed_temporarily() -> bool:
                return worker.status().tasks_failed >= 1

            await wait_for(failed_temporarily, "an indexation failing while the Geocube is down", 120)
            (tile,) = await _tiles(channel, scene.id)
            assert tile.status not in (types_pb2.STATUS_FAILED, types_pb2.STATUS_RETRY), tile.message
            assert not geocube.containers

            await geocube.start()  # back on the same port, with its records
            await aoi_final(channel, "GcOutage", 120)
            assert await _all_done(channel, "GcOutage", 1), "the tile DONE once the Geocube is back"

        folder = tmp_path / "storage" / "GcOutage" / scene.source_id / "tiles" / scene.source_id
        _check_indexed(geocube, scene, folder)
