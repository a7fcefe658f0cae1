"""The workers against the real catalogue: real PostgreSQL, real gRPC servers on 127.0.0.1:0, real graphs.

Scenarios: a demo ingestion runs to DONE end to end (download, tile processing, indexing), and a worker
killed in the middle of a task loses nothing: its lease expires and another worker takes the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.ingester.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    downloader_pb2,
    downloader_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    types_pb2,
)
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive
from services.downloader import worker as downloader
from services.downloader.settings import DownloaderSettings
from services.processor import worker as processor
from services.processor.settings import ProcessorSettings
from libs.runtime.errors import InvalidArgument
from libs.stack.processes import free_port
from libs.worker.app import WorkerApp

pytestmark = pytest.mark.timeout(240)

# The DenmarkDemoS2 payload's area (reference fixture), as WKT.
DENMARK_WKT = (
    "MULTIPOLYGON(((10.061230468750068 54.88637695312502,9.957128906249977 54.87246093750002,"
    "9.903906250000063 54.896630859374994,9.80625 54.90600585937503,9.77119140625004 55.059912109375034,"
    "9.78125 55.06904296875001,9.830371093750015 55.05825195312505,9.998828125000045 54.986474609374994,"
    "10.05771484375006 54.90791015624998,10.061230468750068 54.88637695312502)))"
)
RPC_TIMEOUT = 60.0
BANDS = [f"B{n:02d}" for n in range(1, 13)]


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[str]]:
    root = tmp_path_factory.mktemp("archive")
    ids = build_demo_archive(root, count=4, band_size=32)
    return root, ids


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    """Polls `condition` until it holds; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


async def aoi_final(channel: grpc.aio.Channel, aoi: str, timeout: float = 60.0) -> None:
    """Follows the AOI status with the catalogue's long-poll until it is DONE, FAILED or RETRY."""
    stub = catalogue_pb2_grpc.CatalogueStub(channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    known = types_pb2.STATUS_UNSPECIFIED
    while known not in (types_pb2.STATUS_DONE, types_pb2.STATUS_FAILED, types_pb2.STATUS_RETRY):
        if loop.time() > deadline:
            raise AssertionError(f"AOI {aoi} still {types_pb2.Status.Name(known)} after {timeout:.0f}s")
        request = catalogue_pb2.WaitAoiStatusRequest(aoi=aoi, known=known)
        request.wait.FromSeconds(10)
        known = (await stub.WaitAoiStatus(request, timeout=20)).status


def _area(name: str, scene_graph: str, tile_graph: str, **fields: object) -> types_pb2.Area:
    area = types_pb2.Area(
        name=name,
        geometry_wkt=DENMARK_WKT,
        scene_type=types_pb2.SceneType(constellation="sentinel2"),
        scene_graph_name=scene_graph,
        tile_graph_name=tile_graph,
        **fields,  # type: ignore[arg-type]
    )
    area.start_time.FromDatetime(dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
    area.end_time.FromDatetime(dt.datetime(2022, 1, 12, 23, tzinfo=dt.UTC))
    return area


@contextlib.asynccontextmanager
async def running_catalogue(
    pg_dsn: str, archive: pathlib.Path, lease_seconds: float = 60.0, **more: object
) -> AsyncIterator[tuple[catalogue_app.CatalogueApp, grpc.aio.Channel]]:
    settings = CatalogueSettings(
        database_dsn=pg_dsn,
        address="127.0.0.1:0",
        archive_path=str(archive),
        lease_seconds=lease_seconds,
        **more,  # type: ignore[arg-type]
    )
    app = await asyncio.wait_for(catalogue_app.start(settings), 60)
    channel = grpc.aio.insecure_channel(app.target)
    try:
        yield app, channel
    finally:
        await channel.close()
        await asyncio.wait_for(app.stop(), 30)


@contextlib.asynccontextmanager
async def running(app: Awaitable[WorkerApp]) -> AsyncIterator[WorkerApp]:
    worker = await asyncio.wait_for(app, 30)
    try:
        yield worker
    finally:
        await asyncio.wait_for(worker.stop(grace=5.0), 30)


async def _scenes(channel: grpc.aio.Channel, aoi: str) -> list[types_pb2.Scene]:
    stub = catalogue_pb2_grpc.CatalogueStub(channel)
    response = await stub.ListScenes(catalogue_pb2.ListScenesRequest(aoi=aoi), timeout=RPC_TIMEOUT)
    return list(response.scenes)


async def _tiles(channel: grpc.aio.Channel, scene_id: int) -> list[types_pb2.Tile]:
    stub = catalogue_pb2_grpc.CatalogueStub(channel)
    response = await stub.ListSceneTiles(
        catalogue_pb2.ListSceneTilesRequest(scene_id=scene_id), timeout=RPC_TIMEOUT
    )
    return list(response.tiles)


async def _all_done(channel: grpc.aio.Channel, aoi: str, count: int) -> bool:
    scenes = await _scenes(channel, aoi)
    failed = [s for s in scenes if s.status in (types_pb2.STATUS_FAILED, types_pb2.STATUS_RETRY)]
    assert not failed, f"scene ended {types_pb2.Status.Name(failed[0].status)}: {failed[0].message}"
    if len(scenes) != count or any(s.status != types_pb2.STATUS_DONE for s in scenes):
        return False
    for scene in scenes:
        tiles = await _tiles(channel, scene.id)
        bad = [t for t in tiles if t.status in (types_pb2.STATUS_FAILED, types_pb2.STATUS_RETRY)]
        assert not bad, f"tile ended {types_pb2.Status.Name(bad[0].status)}: {bad[0].message}"
        if not tiles or any(t.status != types_pb2.STATUS_DONE for t in tiles):
            return False
    return True


def _downloader_settings(
    tmp: pathlib.Path, target: str, archive: pathlib.Path, **kw: object
) -> DownloaderSettings:
    values: dict[str, object] = {
        "catalogue_address": target,
        "address": "127.0.0.1:0",
        "storage_uri": str(tmp / "storage"),
        "workdir": str(tmp / "work-downloader"),
        "local_path": str(archive),
        "concurrency": 2,
        "lease_wait_seconds": 5.0,
    }
    values.update(kw)
    return DownloaderSettings(**values)  # type: ignore[arg-type]


def _processor_settings(tmp: pathlib.Path, target: str, **kw: object) -> ProcessorSettings:
    values: dict[str, object] = {
        "catalogue_address": target,
        "address": "127.0.0.1:0",
        "storage_uri": str(tmp / "storage"),
        "workdir": str(tmp / "work-processor"),
        "concurrency": 2,
        "lease_wait_seconds": 5.0,
        "index_retry_seconds": 0.2,
    }
    values.update(kw)
    return ProcessorSettings(**values)  # type: ignore[arg-type]


async def test_demo_scenes_are_downloaded_and_processed(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, ids = demo_archive
    async with (
        running_catalogue(pg_dsn, archive) as (catalogue, channel),
        running(
            downloader.start(_downloader_settings(tmp_path, catalogue.target, archive, worker_id="dl-1"))
        ) as dl,
        running(processor.start(_processor_settings(tmp_path, catalogue.target, worker_id="pr-1"))) as pr,
    ):
        stub = catalogue_pb2_grpc.CatalogueStub(channel)
        area = _area("DemoCopy", "CopyProductToStorage", "Pass")
        response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
        assert response.scene_count == 4

        await aoi_final(channel, "DemoCopy")
        assert await _all_done(channel, "DemoCopy", 4), "every scene and tile DONE"

        for scene in await _scenes(channel, "DemoCopy"):
            stored = tmp_path / "storage" / "DemoCopy" / scene.source_id / "tiles" / scene.source_id
            assert (stored / f"{scene.source_id}.zip").is_file()
        assert sorted(s.source_id for s in await _scenes(channel, "DemoCopy")) == sorted(ids)
        assert dl.status().tasks_done == 4 and dl.status().tasks_failed == 0
        assert pr.status().tasks_done == 4 and pr.status().tasks_failed == 0
        # Working directories are removed after every task.
        assert list((tmp_path / "work-downloader").iterdir()) == []

        # The worker's own server: GetStatus, health and the idle state.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{dl.port}") as own:
            status = await downloader_pb2_grpc.DownloaderStub(own).GetStatus(
                downloader_pb2.GetDownloaderStatusRequest(), timeout=RPC_TIMEOUT
            )
            assert status.worker_id == "dl-1"
            assert status.tasks_done == 4 and not status.current and not status.draining
            health = await health_pb2_grpc.HealthStub(own).Check(
                health_pb2.HealthCheckRequest(service=downloader.SERVICE_NAME), timeout=RPC_TIMEOUT
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING


async def _create_band_instances(channel: grpc.aio.Channel) -> None:
    registry = registry_pb2_grpc.RegistryStub(channel)
    for band in BANDS:
        await registry.CreateVariable(
            registry_pb2.CreateVariableRequest(name=band, dtype="uint16"), timeout=RPC_TIMEOUT
        )
        await registry.CreateInstance(
            registry_pb2.CreateInstanceRequest(variable=band, name="raw"), timeout=RPC_TIMEOUT
        )


async def test_tile_graph_outputs_are_stored_indexed_and_inputs_deleted(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, _ = demo_archive
    async with running_catalogue(pg_dsn, archive) as (catalogue, channel):
        await _create_band_instances(channel)
        area = _area(
            "DemoBands",
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
            await aoi_final(channel, "DemoBands", 120)
            assert await _all_done(channel, "DemoBands", 1), "the scene and its tile DONE"

        (scene,) = await _scenes(channel, "DemoBands")
        folder = tmp_path / "storage" / "DemoBands" / scene.source_id / "tiles" / scene.source_id
        stored = sorted(path.name for path in folder.iterdir())
        date = scene.data.date.ToDatetime().strftime("%Y%m%d")
        assert stored == [f"{date}_{scene.source_id}_{band}.tif" for band in BANDS]  # the product zip deleted

        registry = registry_pb2_grpc.RegistryStub(channel)
        datasets = (
            await registry.ListDatasets(
                registry_pb2.ListDatasetsRequest(record_id=scene.data.record_id), timeout=RPC_TIMEOUT
            )
        ).datasets
        assert len(datasets) == len(BANDS)
        for dataset in datasets:
            assert dataset.uri.startswith(str(folder)) or dataset.uri.startswith(folder.as_uri())
            assert list(dataset.bands) == [1]
            assert dataset.dformat.dtype == "uint16" and dataset.dformat.max_value == 32767
            assert (dataset.real_min_value, dataset.real_max_value) == (0, 1)


SLOW_GRAPH = {
    "config": {},
    "processing_steps": [
        {
            "engine": "python",
            "command": "wait_for_gate.py",
            "args": {"gate": {"type": "config", "value": "gate"}},
            "condition": "pass",
        }
    ],
    "in_files": [[], [], []],
    "out_files": [
        [{"layer": "__product__", "extension": "*", "action": "to_create", "condition": "pass"}],
        [],
        [],
    ],
}
# The step blocks until the test opens the gate, so the test decides when the task can finish.
GATE_SCRIPT = """\
import argparse, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--gate")
gate = pathlib.Path(parser.parse_args().gate)
while not gate.exists():
    time.sleep(0.02)
"""


def _gated_graph(tmp_path: pathlib.Path) -> tuple[pathlib.Path, dict[str, object]]:
    """Writes the gated scene graph; returns the gate and the worker settings that find the graph."""
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    (graphs / "SlowCopy.json").write_text(json.dumps(SLOW_GRAPH))
    (graphs / "wait_for_gate.py").write_text(GATE_SCRIPT)
    return tmp_path / "gate", {"concurrency": 1, "graph_path": (str(graphs),), "lease_wait_seconds": 1.0}


async def _ingest_one_gated_scene(channel: grpc.aio.Channel, aoi: str, gate: pathlib.Path) -> types_pb2.Scene:
    stub = catalogue_pb2_grpc.CatalogueStub(channel)
    area = _area(aoi, "SlowCopy.json", "Pass", limit=1)
    area.graph_config.entries["gate"] = str(gate)
    response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
    assert response.scene_count == 1
    (scene,) = await _scenes(channel, aoi)
    return scene


async def test_a_killed_worker_loses_nothing(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, _ = demo_archive
    gate, common = _gated_graph(tmp_path)
    lease = 1.0

    async with running_catalogue(pg_dsn, archive, lease_seconds=lease) as (catalogue, channel):
        stub = catalogue_pb2_grpc.CatalogueStub(channel)
        scene = await _ingest_one_gated_scene(channel, "Killed", gate)

        first = await downloader.start(
            _downloader_settings(tmp_path, catalogue.target, archive, worker_id="first", **common)
        )
        try:
            await wait_for(lambda: _async(bool(first.status().current)), "the first worker to lease the task")
            async with running(
                downloader.start(
                    _downloader_settings(tmp_path, catalogue.target, archive, worker_id="second", **common)
                )
            ) as second:
                # Observe for three lease durations: heartbeats keep the lease, so the second worker,
                # leasing all along, must not get the task while the first one works on it.
                await asyncio.sleep(3 * lease)
                assert first.status().current and not second.status().current

                await first.stop(grace=0)  # killed mid-task: nothing is reported
                assert (first.status().tasks_done, first.status().tasks_failed) == (0, 0)
                current = await stub.GetScene(catalogue_pb2.GetSceneRequest(id=scene.id), timeout=RPC_TIMEOUT)
                assert current.status == types_pb2.STATUS_PENDING

                # The lease expires and the second worker gets the task.
                await wait_for(
                    lambda: _async(bool(second.status().current)), "the task to be leased again", 30
                )
                gate.touch()
                await wait_for(lambda: _scene_done(channel, scene.id), "the scene DONE", 60)
                assert second.status().tasks_done == 1
        finally:
            await first.stop(grace=0)

    stored = tmp_path / "storage" / "Killed" / scene.source_id / "tiles" / scene.source_id
    assert (stored / f"{scene.source_id}.zip").is_file()


async def test_stopping_lets_the_current_task_finish_within_the_grace_period(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, _ = demo_archive
    gate, common = _gated_graph(tmp_path)
    async with running_catalogue(pg_dsn, archive) as (catalogue, channel):
        scene = await _ingest_one_gated_scene(channel, "Drained", gate)
        worker = await downloader.start(_downloader_settings(tmp_path, catalogue.target, archive, **common))
        try:
            await wait_for(lambda: _async(bool(worker.status().current)), "the worker to lease the task")
            stopping = asyncio.create_task(worker.stop(grace=60))
            await wait_for(lambda: _async(worker.status().draining), "the worker to drain")
            assert not stopping.done() and worker.status().current
            gate.touch()
            await asyncio.wait_for(stopping, 60)
        finally:
            await worker.stop(grace=0)
        assert worker.status().tasks_done == 1 and not worker.status().current
        assert await _scene_done(channel, scene.id)


async def test_a_worker_that_loses_its_lease_abandons_the_task_unreported(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, _ = demo_archive
    gate, common = _gated_graph(tmp_path)
    async with running_catalogue(pg_dsn, archive, lease_seconds=3.0) as (catalogue, channel):
        scene = await _ingest_one_gated_scene(channel, "Lost", gate)
        async with running(
            downloader.start(_downloader_settings(tmp_path, catalogue.target, archive, **common))
        ) as worker:
            await wait_for(lambda: _async(bool(worker.status().current)), "the worker to lease the task")
            async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:

                async def progress() -> str:
                    row = await (await conn.execute("SELECT progress FROM task")).fetchone()
                    return str(row[0]) if row else ""

                # Heartbeats carry the job's progress to the catalogue.
                await wait_for(lambda: _contains(progress(), "running SlowCopy.json"), "the progress")
                # Another worker takes the lease over (what an expiry followed by a new lease does).
                await conn.execute("UPDATE task SET lease_token = gen_random_uuid()")

            # The next heartbeat is refused: the job is cancelled and nothing is reported.
            await wait_for(lambda: _async(not worker.status().current), "the task to be abandoned", 10)
            assert (worker.status().tasks_done, worker.status().tasks_failed) == (0, 0)
            assert not list((tmp_path / "work-downloader").iterdir())  # its working directory is gone

            # Once that lease expires the task is leased again (here by the same worker) and completes.
            gate.touch()
            await wait_for(lambda: _scene_done(channel, scene.id), "the scene DONE", 30)
            assert worker.status().tasks_done == 1


async def _contains(text: Awaitable[str], part: str) -> bool:
    return part in await text


async def test_a_failed_download_is_reported_with_the_reference_message(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, _ = demo_archive
    empty = tmp_path / "empty-archive"
    empty.mkdir()
    async with running_catalogue(pg_dsn, archive) as (catalogue, channel):
        stub = catalogue_pb2_grpc.CatalogueStub(channel)
        area = _area("Missing", "CopyProductToStorage", "Pass", limit=1)
        response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
        assert response.scene_count == 1
        (scene,) = await _scenes(channel, "Missing")
        # The provider looks in an empty folder: the product is not found (not retriable: FAILED).
        async with running(
            downloader.start(_downloader_settings(tmp_path, catalogue.target, empty))
        ) as worker:

            async def failed() -> bool:
                current = await stub.GetScene(catalogue_pb2.GetSceneRequest(id=scene.id), timeout=RPC_TIMEOUT)
                return current.status == types_pb2.STATUS_FAILED

            await wait_for(failed, "the scene FAILED")
            assert worker.status().tasks_failed == 1
        current = await stub.GetScene(catalogue_pb2.GetSceneRequest(id=scene.id), timeout=RPC_TIMEOUT)
        assert current.message.startswith("ProcessScene.ImageProviders.Product not found or unavailable: ")
        assert scene.source_id in current.message
        # Clients read task messages: the worker's folders are not in them.
        assert str(tmp_path) not in current.message, current.message


async def _async(value: bool) -> bool:
    return value


async def _scene_done(channel: grpc.aio.Channel, scene_id: int) -> bool:
    stub = catalogue_pb2_grpc.CatalogueStub(channel)
    scene = await stub.GetScene(catalogue_pb2.GetSceneRequest(id=scene_id), timeout=RPC_TIMEOUT)
    assert scene.status in (types_pb2.STATUS_PENDING, types_pb2.STATUS_DONE), scene.message
    return scene.status == types_pb2.STATUS_DONE


async def test_a_worker_started_before_the_catalogue_waits_for_it(
    pg_dsn: str, demo_archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    archive, _ = demo_archive
    target = f"127.0.0.1:{free_port()}"
    async with running(downloader.start(_downloader_settings(tmp_path, target, archive))) as worker:
        # Nothing listens yet: the worker backs off and keeps trying, without failing or exiting.
        settings = CatalogueSettings(database_dsn=pg_dsn, address=target, archive_path=str(archive))
        app = await asyncio.wait_for(catalogue_app.start(settings), 60)
        try:
            async with grpc.aio.insecure_channel(target) as channel:
                stub = catalogue_pb2_grpc.CatalogueStub(channel)
                area = _area("Late", "CopyProductToStorage", "Pass", limit=1)
                # wait_for_ready: this process's connection to the address may still be in its backoff.
                response = await stub.IngestArea(
                    catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT, wait_for_ready=True
                )
                assert response.scene_count == 1
                (scene,) = await _scenes(channel, "Late")
                await wait_for(lambda: _scene_done(channel, scene.id), "the scene DONE", 60)
                assert worker.status().tasks_done == 1
        finally:
            await asyncio.wait_for(app.stop(), 30)


async def test_missing_catalogue_address_is_a_clear_start_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidArgument, match="GEOCUBE_DOWNLOADER_CATALOGUE_ADDRESS"):
        await downloader.start(DownloaderSettings(storage_uri=str(tmp_path), local_path=str(tmp_path)))
    with pytest.raises(InvalidArgument, match="GEOCUBE_PROCESSOR_CATALOGUE_ADDRESS"):
        await processor.start(ProcessorSettings(storage_uri=str(tmp_path)))
