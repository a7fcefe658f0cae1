"""The catalogue's ingestion and task API through real gRPC over a real PostgreSQL, with this test playing
the workers (a real gRPC client of the Tasks service)."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import pytest
from google.protobuf import duration_pb2

from protos.ingester.v1 import catalogue_pb2, registry_pb2, tasks_pb2, types_pb2
from libs.domain import models
from libs.domain import proto_convert as pc

AREA_WKT = "POLYGON ((9.7 54.8, 10.1 54.8, 10.1 55.1, 9.7 55.1, 9.7 54.8))"
IDS = [
    "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507",
    "S2B_MSIL1C_20220109T103309_N0301_R108_T32UNF_20220109T113512",
]


def _area(name: str = "Denmark", **extra: object) -> types_pb2.Area:
    area = types_pb2.Area(
        name=name, geometry_wkt=AREA_WKT, scene_type=types_pb2.SceneType(constellation="sentinel2"),
        scene_graph_name="CopyProductToStorage", tile_graph_name="Pass", retry_count=1, is_retriable=True,
        record_tags={"source": "test"}, **extra,  # type: ignore[arg-type]
    )
    area.layers["B01"].variable = "B01"
    area.layers["B01"].instance = "raw"
    return area


def _tiled_scenes(area: types_pb2.Area) -> list[types_pb2.CatalogScene]:
    scenes = []
    for i, source_id in enumerate(IDS):
        date = dt.datetime(2022, 1, 4 + 5 * i, 10, 34, 21, tzinfo=dt.UTC)
        scene = models.CatalogScene(
            source_id=source_id, aoi=area.name, tags={"source": "test"}, wkt=AREA_WKT,
            data=models.SceneAttrs(date=date, graph_name="CopyProductToStorage", graph_config={},
                                   tiles={source_id: models.TileMapping()}, is_retriable=True),
            tiles=[models.CatalogTile(source_id=source_id, scene_id=source_id, date=date,
                                      data=models.TileAttrs(graph_name="Pass", is_retriable=True), wkt=AREA_WKT)],
        )
        scenes.append(pc.catalog_scene_to_proto(scene))
    return scenes


async def _register_layers(stubs) -> None:  # type: ignore[no-untyped-def]
    await stubs.registry.CreateVariable(registry_pb2.CreateVariableRequest(name="B01", dtype="uint16"))
    await stubs.registry.CreateInstance(registry_pb2.CreateInstanceRequest(variable="B01", name="raw"))


async def _lease(stubs, kind: int, wait: float = 5.0) -> tasks_pb2.Task | None:  # type: ignore[no-untyped-def]
    response = await stubs.tasks.LeaseTask(
        tasks_pb2.LeaseTaskRequest(kind=kind, worker_id="test", wait=duration_pb2.Duration(seconds=int(wait))),
        timeout=wait + 5,
    )
    return response.task if response.HasField("task") else None


async def _report(stubs, task: tasks_pb2.Task, status: int, message: str = "", temporary: bool = False):  # type: ignore[no-untyped-def]
    return await stubs.tasks.ReportResult(
        tasks_pb2.ReportResultRequest(task_id=task.task_id, lease_token=task.lease_token, status=status,
                                      message=message, temporary=temporary), timeout=10)


async def test_ingest_download_process_until_done(stubs) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    area = _area()
    answer = await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))), timeout=10
    )
    assert (answer.scene_count, answer.tile_count) == (2, 2)

    seen = []
    for _ in IDS:
        task = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
        assert task is not None and task.WhichOneof("job") == "download"
        scene = task.download.scene
        seen.append(scene.source_id)
        assert scene.data.instances_id["B01"] and scene.data.record_id
        assert (await _report(stubs, task, types_pb2.STATUS_DONE)).applied
    assert seen == IDS  # oldest first: scenes are created in date order
    assert await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD, wait=0) is None

    for _ in IDS:
        task = await _lease(stubs, tasks_pb2.TASK_KIND_PROCESS)
        assert task is not None and task.process.tile.scene.source_id in IDS
        await _report(stubs, task, types_pb2.STATUS_DONE)

    report = await stubs.catalogue.GetAoiReport(catalogue_pb2.GetAoiReportRequest(aoi="Denmark"), timeout=5)
    assert (report.scenes.done, report.tiles.done, report.root_tiles) == (2, 2, 2)
    aois = await stubs.catalogue.ListAois(catalogue_pb2.ListAoisRequest(), timeout=5)
    assert [(a.id, a.status) for a in aois.aois] == [("Denmark", types_pb2.STATUS_DONE)]

    # Re-posting the same area creates nothing new.
    again = await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))), timeout=10
    )
    assert again.scene_count == 0
    records = await stubs.registry.ListRecords(registry_pb2.ListRecordsRequest(), timeout=5)
    assert sorted(r.name for r in records.records) == IDS


async def test_long_poll_wakes_on_ingestion(stubs) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    waiting = asyncio.create_task(_lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD, wait=30))
    await asyncio.sleep(0.2)  # let the lease call reach its wait (no state to poll for here)
    assert not waiting.done()
    area = _area()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))), timeout=10
    )
    task = await asyncio.wait_for(waiting, timeout=10)
    assert task is not None
    assert loop.time() - started < 5  # woken by NOTIFY, far before the 30 s wait ends


async def test_retry_countdown_then_retry_status(stubs) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    area = _area()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area)[:1])), timeout=10
    )
    task = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
    assert task is not None
    await _report(stubs, task, types_pb2.STATUS_RETRY, "first failure")
    scene = await stubs.catalogue.GetScene(catalogue_pb2.GetSceneRequest(id=task.download.scene.id), timeout=5)
    assert (scene.status, scene.retry_countdown) == (types_pb2.STATUS_PENDING, 0)
    task2 = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
    assert task2 is not None and task2.attempt == 1
    # The first lease is gone: its token can no longer report.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _report(stubs, task, types_pb2.STATUS_DONE)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await _report(stubs, task2, types_pb2.STATUS_RETRY, "second failure")
    scene = await stubs.catalogue.GetScene(catalogue_pb2.GetSceneRequest(id=task.download.scene.id), timeout=5)
    assert (scene.status, scene.message) == (types_pb2.STATUS_RETRY, "second failure")
    aois = await stubs.catalogue.ListAois(catalogue_pb2.ListAoisRequest(pattern="Den*"), timeout=5)
    assert aois.aois[0].status == types_pb2.STATUS_RETRY


async def test_rejected_ingestion_writes_nothing(stubs) -> None:  # type: ignore[no-untyped-def]
    area = _area()  # layer B01/raw not registered
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.catalogue.IngestArea(
            catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))),
            timeout=10,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "layers.B01" in err.value.details()
    bad = _area(name="bad name!")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.catalogue.IngestArea(catalogue_pb2.IngestAreaRequest(area=bad), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "name" in err.value.details()
    # A tile id that would become a path on the workers (../) is refused, records included.
    await _register_layers(stubs)
    scenes = _tiled_scenes(area)
    scenes[1].tiles[0].source_id = "../../etc"
    scenes[1].data.tiles["../../etc"].CopyFrom(scenes[1].data.tiles.pop(scenes[1].source_id))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.catalogue.IngestArea(
            catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=scenes)), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "source id '../../etc'" in err.value.details()
    assert not (await stubs.catalogue.ListAois(catalogue_pb2.ListAoisRequest(), timeout=5)).aois
    assert not (await stubs.registry.ListRecords(registry_pb2.ListRecordsRequest(), timeout=5)).records


async def test_temporary_failures_use_up_attempts(stubs) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    area = _area()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area)[:1])), timeout=10
    )
    for attempt in range(1, 6):  # max_attempts defaults to 5
        task = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
        assert task is not None and task.attempt == attempt
        await _report(stubs, task, types_pb2.STATUS_UNSPECIFIED, "connection reset", temporary=True)
    assert await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD, wait=0) is None
    scenes = await stubs.catalogue.ListScenes(catalogue_pb2.ListScenesRequest(aoi="Denmark"), timeout=5)
    assert scenes.scenes[0].status == types_pb2.STATUS_FAILED
    assert "too many attempts" in scenes.scenes[0].message


async def test_wait_aoi_status_long_poll(stubs) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    area = _area()
    wait = duration_pb2.Duration(seconds=30)
    unknown = await stubs.catalogue.WaitAoiStatus(catalogue_pb2.WaitAoiStatusRequest(aoi="Denmark"), timeout=5)
    assert (unknown.status, unknown.changed) == (types_pb2.STATUS_UNSPECIFIED, False)
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area)[:1])), timeout=10
    )
    now = await stubs.catalogue.WaitAoiStatus(catalogue_pb2.WaitAoiStatusRequest(aoi="Denmark"), timeout=5)
    assert now.status == types_pb2.STATUS_PENDING and now.changed
    follow = asyncio.ensure_future(stubs.catalogue.WaitAoiStatus(
        catalogue_pb2.WaitAoiStatusRequest(aoi="Denmark", known=types_pb2.STATUS_PENDING, wait=wait), timeout=40))
    download = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
    assert download is not None
    await _report(stubs, download, types_pb2.STATUS_DONE)
    assert not follow.done()  # scene DONE, tile still PENDING: the AOI stays PENDING
    process = await _lease(stubs, tasks_pb2.TASK_KIND_PROCESS)
    assert process is not None
    await _report(stubs, process, types_pb2.STATUS_DONE)
    done = await asyncio.wait_for(follow, timeout=10)
    assert (done.status, done.changed) == (types_pb2.STATUS_DONE, True)


async def test_report_claims_the_next_task(stubs) -> None:  # type: ignore[no-untyped-def]
    """ReportResult with lease_next answers the next ready task of that kind, leased to the reporter; the
    last report finds none; a refused report claims nothing."""
    await _register_layers(stubs)
    area = _area()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))), timeout=10
    )
    first = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
    assert first is not None

    def report(task: tasks_pb2.Task) -> tasks_pb2.ReportResultRequest:
        return tasks_pb2.ReportResultRequest(
            task_id=task.task_id, lease_token=task.lease_token, status=types_pb2.STATUS_DONE,
            lease_next=tasks_pb2.TASK_KIND_DOWNLOAD, worker_id="test",
        )  # fmt: skip

    # A report under a wrong token is refused and claims nothing (the second scene stays queued).
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.tasks.ReportResult(report(tasks_pb2.Task(task_id=first.task_id, lease_token="x")), timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # A report naming another worker than the lease holder claims nothing for it, and records nothing.
    foreign = report(first)
    foreign.worker_id = "somebody-else"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.tasks.ReportResult(foreign, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("worker_id: ")
    answer = await stubs.tasks.ReportResult(report(first), timeout=10)
    assert answer.applied and answer.HasField("next_task")
    second = answer.next_task
    assert second.download.scene.source_id == IDS[1] and second.attempt == 1
    # The claimed task is really leased: a plain LeaseTask finds nothing, its token is accepted.
    assert await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD, wait=0) is None
    last = await stubs.tasks.ReportResult(report(second), timeout=10)
    assert last.applied and not last.HasField("next_task")
    # Both downloads released their tiles: the processing tasks are there for the processor.
    assert await _lease(stubs, tasks_pb2.TASK_KIND_PROCESS) is not None


async def test_lease_loop_gives_back_a_claim_when_draining(stubs, catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A task claimed by a report just as the worker starts draining goes straight back to the queue
    (not at lease expiry), where another worker leases it."""
    from libs.domain.models import Status
    from libs.worker.task_loop import LeaseLoop, LoopConfig
    from libs.worker.outcome import Outcome
    from libs.worker.status import StatusBoard

    await _register_layers(stubs)
    area = _area()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))), timeout=10
    )
    ran: list[str] = []
    loop: LeaseLoop

    async def handler(task, context):  # type: ignore[no-untyped-def]
        ran.append(task.download.scene.source_id)

        async def drain_now() -> None:  # runs once the report (and its claim) was accepted
            loop._stopping.set()  # what drain() does first; its grace wait is not what is tested

        return Outcome(Status.DONE, after_report=drain_now)

    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        config = LoopConfig(tasks_pb2.TASK_KIND_DOWNLOAD, "chained", tmp_path, lease_wait=5)
        loop = LeaseLoop(channel, config, handler, StatusBoard("chained"))
        loop.start()
        await asyncio.wait_for(asyncio.gather(*loop._slots), 30)
    # The first scene ran; the second, claimed by its report, was handed back unstarted...
    assert ran == [IDS[0]]
    task = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD, wait=0)
    # ...and is leasable at once by another worker (attempt 2: the claim counted as one).
    assert task is not None and task.download.scene.source_id == IDS[1] and task.attempt == 2


async def _expire_leases(catalogue) -> None:  # type: ignore[no-untyped-def]
    """The passage of time, without waiting for it: every lease ends a second ago."""
    async with catalogue.pool.connection() as conn:
        await conn.execute("UPDATE task SET lease_expires = now() - interval '1 second' WHERE state = 'leased'")


@pytest.mark.parametrize("status", [types_pb2.STATUS_DONE, types_pb2.STATUS_FAILED, types_pb2.STATUS_UNSPECIFIED])
async def test_report_after_lease_expiry_is_refused(stubs, catalogue, status: int) -> None:  # type: ignore[no-untyped-def]
    """Past its expiry a lease reports nothing (DONE has its own SQL path, FAILED and temporary the
    Python one): FAILED_PRECONDITION "lease expired", and the task is back in the queue for another."""
    await _register_layers(stubs)
    area = _area()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area)[:1])), timeout=10
    )
    task = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
    assert task is not None
    await _expire_leases(catalogue)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _report(stubs, task, status, "late", temporary=status == types_pb2.STATUS_UNSPECIFIED)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "lease expired" in refused.value.details() and "back in the queue" in refused.value.details()
    scene = await stubs.catalogue.GetScene(catalogue_pb2.GetSceneRequest(id=task.download.scene.id), timeout=5)
    assert scene.status == types_pb2.STATUS_PENDING  # the late result changed nothing
    again = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD, wait=0)
    assert again is not None and again.task_id == task.task_id and again.attempt == 2
    # The new holder reports normally; the old token stays refused.
    await _report(stubs, again, types_pb2.STATUS_DONE)
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await _report(stubs, task, types_pb2.STATUS_DONE)
    assert stale.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_report_after_the_last_lease_expiry_fails_the_item(stubs, catalogue) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    area = _area()
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area)[:1])), timeout=10
    )
    for _ in range(4):  # max_attempts 5: four transient failures, then the fifth lease expires
        task = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
        assert task is not None
        await _report(stubs, task, types_pb2.STATUS_UNSPECIFIED, "connection reset", temporary=True)
    last = await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD)
    assert last is not None and last.attempt == 5
    await _expire_leases(catalogue)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _report(stubs, last, types_pb2.STATUS_DONE)
    assert "lease expired" in refused.value.details() and "FAILED" in refused.value.details()
    scene = await stubs.catalogue.GetScene(catalogue_pb2.GetSceneRequest(id=last.download.scene.id), timeout=5)
    assert scene.status == types_pb2.STATUS_FAILED and "lease expired" in scene.message


async def test_record_tags_are_checked_for_scenes_the_aoi_already_has(stubs) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    area = _area()
    request = catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area)))
    assert (await stubs.catalogue.IngestArea(request, timeout=10)).scene_count == 2
    # The same scenes again with a tag their own tags contradict: refused, not silently skipped.
    request.area.record_tags["source"] = "elsewhere"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.catalogue.IngestArea(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == (
        f"record_tags: area and scene '{IDS[0]}' have different value for tag 'source': 'elsewhere' != 'test'"
    )
    request.area.record_tags["source"] = "test"  # agreeing tags: nothing new, no error
    assert (await stubs.catalogue.IngestArea(request, timeout=10)).scene_count == 0
