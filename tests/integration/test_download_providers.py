"""The provider chain inside the downloader: progress on the status board, "product not found" naming every
provider, and a whole download task over HTTP against the real catalogue (real PostgreSQL, gRPC)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import pathlib
import re
import threading

import grpc
import pytest
from support.httpserver import LocalHTTPServer, Request, Response, serve_bytes

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, tasks_pb2, tasks_pb2_grpc, types_pb2
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive
from libs.domain.models import Scene, SceneAttrs, TileMapping
from services.downloader import worker as downloader
from services.downloader.providers import http, transfer
from services.downloader.providers.local import LocalProvider
from services.downloader.providers.product import ProductRequest
from services.downloader.settings import DownloaderSettings
from libs.worker.task_loop import TaskContext
from libs.worker.outcome import JobError
from libs.worker.status import CurrentTask, StatusBoard

pytestmark = pytest.mark.timeout(120)

S2_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
FAST = transfer.Policy(retry_pause=0.001, timeout=5.0, chunk_size=4096)
# The DenmarkDemoS2 payload's area (reference fixture), where the demo archive's products lie.
DENMARK_WKT = (
    "MULTIPOLYGON(((10.061230468750068 54.88637695312502,9.957128906249977 54.87246093750002,"
    "9.903906250000063 54.896630859374994,9.80625 54.90600585937503,9.77119140625004 55.059912109375034,"
    "9.78125 55.06904296875001,9.830371093750015 55.05825195312505,9.998828125000045 54.986474609374994,"
    "10.05771484375006 54.90791015624998,10.061230468750068 54.88637695312502)))"
)


def _scene(source_id: str = S2_ID) -> Scene:
    return Scene(1, source_id, "aoi", SceneAttrs(tiles={source_id: TileMapping()}, graph_name="Pass"))


class _WatchedBoard(StatusBoard):
    """The status board, telling the test each time a progress line arrives (no polling)."""

    def __init__(self, worker_id: str):
        super().__init__(worker_id)
        self.changed = asyncio.Event()

    def set_progress(self, task_id: int, progress: str) -> None:
        super().set_progress(task_id, progress)
        self.changed.set()


def _context(tmp_path: pathlib.Path) -> TaskContext:
    board = _WatchedBoard("w")
    board.begin(CurrentTask(7, "aoi", 1, 0, S2_ID, dt.datetime.now(dt.UTC)))
    return TaskContext(tasks_pb2.Task(task_id=7), tmp_path / "work", board)


async def test_progress_names_the_provider_and_counts_bytes(tmp_path: pathlib.Path) -> None:
    body = bytes(200_000)
    seen: list[str] = []
    gate = threading.Event()

    def chunks() -> object:
        yield body[:100_000]
        gate.wait(5)  # hold the transfer half-way until the test has seen the board say so
        yield body[100_000:]

    def handler(request: Request) -> Response:
        return Response(200, chunks(), {"Content-Length": str(len(body))})  # type: ignore[arg-type]

    context = _context(tmp_path)
    with LocalHTTPServer(handler) as server:
        provider = http.HttpProvider([f"{server.url}/{{SCENE}}.tif"], http.StaticAuth(), FAST)
        job = downloader.DownloadJob([provider], str(tmp_path / "storage"), [])
        fetching = asyncio.create_task(job.fetch_product(_scene(), context.workdir, context))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        # Reports come every percent: the last one before the hold is at 49 or 50 %.
        board = context.board
        assert isinstance(board, _WatchedBoard)
        while not re.fullmatch(
            r"downloading via HttpProvider: 0\.1/0\.2 MiB \((49|50)%\)", board.progress(7)
        ):
            seen.append(board.progress(7))
            board.changed.clear()
            remaining = deadline - loop.time()
            assert remaining > 0, f"no half-way progress, saw {sorted(set(seen))}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(board.changed.wait(), remaining)
        gate.set()
        await asyncio.wait_for(fetching, 10)
    assert context.board.progress(7) == "downloading via HttpProvider: 0.2/0.2 MiB (100%)"
    assert (context.workdir / f"{S2_ID}.tif").read_bytes() == body


async def test_when_every_provider_misses_the_error_says_product_not_found_naming_them(
    tmp_path: pathlib.Path,
) -> None:
    with LocalHTTPServer(lambda request: Response(404)) as server:
        providers = [
            LocalProvider(tmp_path / "archive"),
            http.HttpProvider([f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(), FAST),
        ]
        job = downloader.DownloadJob(providers, str(tmp_path / "storage"), [])
        with pytest.raises(JobError) as caught:
            await job.fetch_product(_scene(), tmp_path / "work", _context(tmp_path))
    text = caught.value.message
    assert text.startswith("ProcessScene.ImageProviders.Product not found or unavailable: ")
    assert text.endswith("\n product not found by any provider (LocalImageProvider, HttpProvider)")
    assert f"{server.url}/{S2_ID}.zip" in text and not caught.value.temporary


async def test_a_transient_provider_failure_makes_the_chain_transient(tmp_path: pathlib.Path) -> None:
    with LocalHTTPServer(lambda request: Response(503)) as server:
        providers = [
            LocalProvider(tmp_path / "archive"),
            http.HttpProvider([f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(), FAST),
        ]
        job = downloader.DownloadJob(providers, str(tmp_path / "storage"), [])
        with pytest.raises(JobError) as caught:
            await job.fetch_product(_scene(), tmp_path / "work", _context(tmp_path))
    assert caught.value.temporary and "HTTP 503" in caught.value.message


class _SlowToStop:
    """A provider whose thread, once told to cancel, still writes into the workdir before it returns,
    held by `release` (a copy finishing its current file, say)."""

    name = "SlowToStop"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.saw_cancel = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> None:
        self.started.set()
        product.cancel.wait(10)
        self.saw_cancel.set()
        self.release.wait(10)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "late.bin").write_bytes(b"x")
        self.finished.set()
        product.check_cancelled(self.name)


async def test_a_cancelled_job_waits_for_its_provider_thread(tmp_path: pathlib.Path) -> None:
    """The lease loop removes the workdir once the job has ended: the provider's thread must have
    stopped by then, or it could recreate and fill the workdir afterwards."""
    provider = _SlowToStop()
    job = downloader.DownloadJob([provider], str(tmp_path / "storage"), [])
    fetching = asyncio.create_task(job.fetch_product(_scene(), tmp_path / "work"))
    assert await asyncio.to_thread(provider.started.wait, 10)
    fetching.cancel()
    assert await asyncio.to_thread(provider.saw_cancel.wait, 10)
    assert not fetching.done()  # still waiting for the thread, which has not returned
    provider.release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(fetching, 10)
    assert provider.finished.is_set() and (tmp_path / "work" / "late.bin").is_file()


async def test_a_provider_thread_ignoring_the_cancel_is_waited_for_a_bounded_time(
    tmp_path: pathlib.Path,
) -> None:
    provider = _SlowToStop()
    job = downloader.DownloadJob([provider], str(tmp_path / "storage"), [], cancel_grace=0.05)
    fetching = asyncio.create_task(job.fetch_product(_scene(), tmp_path / "work"))
    assert await asyncio.to_thread(provider.started.wait, 10)
    fetching.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(fetching, 10)  # ends after the grace, the thread still held
        assert not provider.finished.is_set()
    finally:
        provider.release.set()
    assert await asyncio.to_thread(provider.finished.wait, 10)


async def test_a_scene_is_downloaded_over_http_by_the_downloader(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "archive"
    ids = build_demo_archive(archive, count=1, band_size=8)
    products = {f"/{name}.zip": (archive / f"{name}.zip").read_bytes() for name in ids}

    def handler(request: Request) -> Response:
        data = products.get(request.path)
        return serve_bytes(request, data) if data is not None else Response(404)

    settings = CatalogueSettings(database_dsn=pg_dsn, address="127.0.0.1:0", archive_path=str(archive))
    catalogue = await asyncio.wait_for(catalogue_app.start(settings), 60)
    try:
        with LocalHTTPServer(handler) as server:
            worker = await asyncio.wait_for(
                downloader.start(
                    DownloaderSettings(
                        catalogue_address=catalogue.target,
                        address="127.0.0.1:0",
                        storage_uri=str(tmp_path / "storage"),
                        workdir=str(tmp_path / "work"),
                        http_urls=(f"{server.url}/{{SCENE}}.zip",),
                        lease_wait_seconds=5.0,
                    )
                ),
                30,
            )
            try:
                async with grpc.aio.insecure_channel(catalogue.target) as channel:
                    stub = catalogue_pb2_grpc.CatalogueStub(channel)
                    area = types_pb2.Area(
                        name="OverHttp",
                        geometry_wkt=DENMARK_WKT,
                        scene_type=types_pb2.SceneType(constellation="sentinel2"),
                        scene_graph_name="CopyProductToStorage",
                        tile_graph_name="Pass",
                    )
                    area.start_time.FromDatetime(dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
                    area.end_time.FromDatetime(dt.datetime(2022, 1, 12, 23, tzinfo=dt.UTC))
                    response = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=60)
                    assert response.scene_count == 1
                    # The scene's DONE releases its tile: a processing long-poll answers as soon as it does
                    # (no processor runs here, so the tile task is ours to take).
                    lease = tasks_pb2.LeaseTaskRequest(kind=tasks_pb2.TASK_KIND_PROCESS, worker_id="test")
                    lease.wait.FromSeconds(30)
                    await tasks_pb2_grpc.TasksStub(channel).LeaseTask(lease, timeout=40)
                    request = catalogue_pb2.ListScenesRequest(aoi="OverHttp")
                    (scene,) = (await stub.ListScenes(request, timeout=60)).scenes
                assert scene.status == types_pb2.STATUS_DONE, scene.message
            finally:
                await asyncio.wait_for(worker.stop(grace=5.0), 30)
        assert [r.path for r in server.requests] == [f"/{ids[0]}.zip"]
        stored = tmp_path / "storage" / "OverHttp" / ids[0] / "tiles" / ids[0] / f"{ids[0]}.zip"
        assert stored.is_file()
    finally:
        await asyncio.wait_for(catalogue.stop(), 30)
