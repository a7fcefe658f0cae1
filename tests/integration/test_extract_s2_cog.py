"""The processor runs ExtractS2Bands on a demo tile: the bands are stored as COGs and indexed.

Real catalogue (PostgreSQL, gRPC), real downloader and processor workers, the library graph and its
scripts; the helpers are the worker tests'.
"""

from __future__ import annotations

import math
import pathlib

import rasterio

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, registry_pb2, registry_pb2_grpc, types_pb2
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
from tests.support import cog as validator


async def test_processor_stores_and_indexes_cogs(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "archive"
    # 600 pixels a side: larger than one 512 tile, so the COGs have an overview level.
    (source_id,) = build_demo_archive(archive, count=1, band_size=600)
    async with running_catalogue(pg_dsn, archive) as (catalogue, channel):
        await _create_band_instances(channel)
        area = _area(
            "Cogs",
            "CopyProductToStorage",
            "library/graph/ExtractS2Bands.json",
            limit=1,
            layers={band: types_pb2.Layer(variable=band, instance="raw") for band in BANDS},
        )
        stub = catalogue_pb2_grpc.CatalogueStub(channel)
        response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
        assert response.scene_count == 1
        async with (
            running(downloader.start(_downloader_settings(tmp_path, catalogue.target, archive))),
            running(processor.start(_processor_settings(tmp_path, catalogue.target))),
        ):
            await aoi_final(channel, "Cogs", 60)
            assert await _all_done(channel, "Cogs", 1), "the scene and its tile DONE"

        folder = tmp_path / "storage" / "Cogs" / source_id / "tiles" / source_id
        stored = sorted(folder.iterdir())
        # The bands as COGs, B8A not indexed hence not stored, the product zip deleted.
        assert [p.name for p in stored] == [f"20220102_{source_id}_{band}.tif" for band in BANDS]
        for path in stored:
            report = validator.assert_cog(path)
            assert report.overview_sizes == [(300, 300)]
            with rasterio.open(path) as band:
                assert (band.dtypes, band.nodata, band.crs.to_epsg()) == (("uint16",), 0, 32632)
                assert band.read(1).min() > 0  # demo reflectances, nothing lost

        registry = registry_pb2_grpc.RegistryStub(channel)
        (scene,) = (
            await stub.ListScenes(catalogue_pb2.ListScenesRequest(aoi="Cogs"), timeout=RPC_TIMEOUT)
        ).scenes
        datasets = (
            await registry.ListDatasets(
                registry_pb2.ListDatasetsRequest(record_id=scene.data.record_id), timeout=RPC_TIMEOUT
            )
        ).datasets
        uris = sorted(dataset.uri.removeprefix("file://") for dataset in datasets)
        assert uris == [str(path) for path in stored]
        for dataset in datasets:
            assert list(dataset.bands) == [1]
            # The graph's dformat_out (the reference's "uint16,NaN,0,32767"), real range [0, 1].
            assert (dataset.dformat.dtype, dataset.dformat.max_value) == ("uint16", 32767)
            assert math.isnan(dataset.dformat.no_data)
            assert (dataset.real_min_value, dataset.real_max_value, dataset.exponent) == (0, 1, 1)
