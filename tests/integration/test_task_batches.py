"""LeaseTasks and ReportResults (several tasks per call) on the real catalogue and database, and the
worker's lease loop sending its slots' reports together and its idle slots' long-polls as one, also to a
catalogue that predates them."""

from __future__ import annotations

import asyncio
import pathlib

import grpc
import pytest
from google.protobuf import duration_pb2

from protos.ingester.v1 import catalogue_pb2, tasks_pb2, tasks_pb2_grpc, types_pb2
from libs.domain.models import Status
from libs.worker.task_loop import LeaseLoop, LoopConfig
from libs.worker.outcome import Outcome
from libs.worker.status import StatusBoard
from tests.integration.test_catalogue_workflow import _area, _lease, _register_layers, _tiled_scenes

DOWNLOAD, PROCESS = tasks_pb2.TASK_KIND_DOWNLOAD, tasks_pb2.TASK_KIND_PROCESS
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]


async def _ingest(stubs, *names: str) -> None:  # type: ignore[no-untyped-def]
    await _register_layers(stubs)
    for name in names:  # two scenes, one tile each, per AOI
        area = _area(name)
        await stubs.catalogue.IngestArea(
            catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))),
            timeout=10,
        )


async def _lease_tasks(stubs, kind: int, max_tasks: int, wait: int = 0) -> list[tasks_pb2.Task]:  # type: ignore[no-untyped-def]
    response = await stubs.tasks.LeaseTasks(
        tasks_pb2.LeaseTasksRequest(kind=kind, worker_id="test", max_tasks=max_tasks,
                                    wait=duration_pb2.Duration(seconds=wait)),
        timeout=wait + 10,
    )
    return list(response.tasks)


def _result(task: tasks_pb2.Task, status: int = types_pb2.STATUS_DONE, **fields: object) -> tasks_pb2.ReportResultRequest:
    return tasks_pb2.ReportResultRequest(task_id=task.task_id, lease_token=task.lease_token, status=status, **fields)  # type: ignore[arg-type]


async def _scene_statuses(stubs, *names: str) -> list[int]:  # type: ignore[no-untyped-def]
    statuses = []
    for name in names:
        scenes = await stubs.catalogue.ListScenes(catalogue_pb2.ListScenesRequest(aoi=name), timeout=5)
        statuses += [scene.status for scene in scenes.scenes]
    return statuses


async def test_lease_tasks_claims_several_in_one_call(stubs) -> None:  # type: ignore[no-untyped-def]
    """Up to max_tasks distinct tasks, oldest first, each with its item; then the rest; then none. A
    bound out of range is refused before anything is claimed."""
    await _ingest(stubs, "a", "b")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _lease_tasks(stubs, DOWNLOAD, 101)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "max_tasks" in refused.value.details()
    first = await _lease_tasks(stubs, DOWNLOAD, 3)
    assert len(first) == 3
    assert [task.task_id for task in first] == sorted(task.task_id for task in first)
    assert all(task.download.scene.id and task.attempt == 1 and task.lease_token for task in first)
    assert len({task.download.scene.id for task in first}) == 3
    rest = await _lease_tasks(stubs, DOWNLOAD, 3)
    assert len(rest) == 1 and rest[0].task_id not in {task.task_id for task in first}
    assert await _lease_tasks(stubs, DOWNLOAD, 3) == []
    # Process tasks come with their tile and its scene, as from LeaseTask.
    answer = await stubs.tasks.ReportResults(
        tasks_pb2.ReportResultsRequest(results=[_result(task) for task in [*first, *rest]]), timeout=10
    )
    assert [(outcome.applied, outcome.code) for outcome in answer.outcomes] == [(True, 0)] * 4
    tiles = await _lease_tasks(stubs, PROCESS, 10)
    assert len(tiles) == 4 and all(task.process.tile.id and task.process.tile.scene.id for task in tiles)


async def test_report_results_answers_each_result_on_its_own(stubs, catalogue) -> None:  # type: ignore[no-untyped-def]
    """One call, four results: applied, stale lease, malformed status, temporary failure; each answered
    as ReportResult would answer it alone, the others unaffected; the next tasks go to the holder."""
    await _ingest(stubs, "a", "b")
    leased = await _lease_tasks(stubs, DOWNLOAD, 4)
    stale = tasks_pb2.Task(task_id=leased[1].task_id, lease_token="00000000-0000-0000-0000-000000000000")
    request = tasks_pb2.ReportResultsRequest(
        results=[
            _result(leased[0]),
            _result(stale),
            _result(leased[2], types_pb2.STATUS_UNSPECIFIED),
            _result(leased[3], types_pb2.STATUS_UNSPECIFIED, temporary=True, message="busy"),
        ],
        lease_next=PROCESS,
        lease_max=2,
        worker_id="test",
    )
    answer = await stubs.tasks.ReportResults(request, timeout=10)
    assert [(outcome.applied, outcome.code) for outcome in answer.outcomes] == [
        (True, 0), (False, FAILED_PRECONDITION), (False, INVALID_ARGUMENT), (True, 0)
    ]
    assert "results[2].status" in answer.outcomes[2].message
    # Only the DONE scene released a tile: one next task of the two asked for, leased to "test".
    assert len(answer.next_tasks) == 1
    assert answer.next_tasks[0].process.tile.scene.id == leased[0].download.scene.id
    # The temporary failure went back to the queue; the refused ones still hold their lease.
    again = await _lease(stubs, DOWNLOAD, wait=0)
    assert again is not None and again.task_id == leased[3].task_id and again.attempt == 2
    async with catalogue.pool.connection() as conn:
        cur = await conn.execute("SELECT id, worker_id FROM task WHERE kind = 'process'")
        assert await cur.fetchall() == [(answer.next_tasks[0].task_id, "test")]


async def test_report_results_claims_only_for_the_lease_holder(stubs) -> None:  # type: ignore[no-untyped-def]
    """lease_next needs the worker's id, and each result must come from that worker: a report of
    another worker's lease records nothing and claims nothing."""
    await _ingest(stubs, "a")
    leased = await _lease_tasks(stubs, DOWNLOAD, 2)  # worker "test"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.tasks.ReportResults(
            tasks_pb2.ReportResultsRequest(results=[_result(leased[0])], lease_next=PROCESS, lease_max=1), timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "worker_id" in refused.value.details()
    answer = await stubs.tasks.ReportResults(
        tasks_pb2.ReportResultsRequest(
            results=[_result(leased[0]), _result(leased[1], types_pb2.STATUS_FAILED, message="no")],
            lease_next=PROCESS, lease_max=2, worker_id="intruder",
        ),
        timeout=10,
    )
    assert [outcome.code for outcome in answer.outcomes] == [INVALID_ARGUMENT, INVALID_ARGUMENT]
    assert not answer.next_tasks
    scenes = await stubs.catalogue.ListScenes(catalogue_pb2.ListScenesRequest(aoi="a"), timeout=5)
    assert {scene.status for scene in scenes.scenes} == {types_pb2.STATUS_PENDING}


async def _run_loop(channel: grpc.aio.Channel, tmp_path: pathlib.Path, expected: int, concurrency: int) -> LeaseLoop:
    """A real lease loop of `concurrency` slots over `channel` until `expected` downloads ran and were
    reported; the slots finish together, as busy slots do."""
    done = asyncio.Event()
    ran: list[int] = []
    gate = asyncio.Event()

    async def handler(task, context):  # type: ignore[no-untyped-def]
        ran.append(task.task_id)
        if len(ran) % concurrency == 0 or len(ran) == expected:
            gate.set()  # the last of a round releases every slot of it at once
        await gate.wait()
        if len(ran) == expected:
            async def finished() -> None:
                done.set()
            return Outcome(Status.DONE, after_report=finished)
        return Outcome(Status.DONE)

    loop = LeaseLoop(
        channel, LoopConfig(DOWNLOAD, "batcher", tmp_path, concurrency=concurrency, lease_wait=5),
        handler, StatusBoard("batcher"),
    )
    loop.start()
    await asyncio.wait_for(done.wait(), 30)
    await loop.drain(5)
    assert len(ran) == len(set(ran)) == expected  # none twice
    return loop


async def test_lease_loop_sends_the_slots_reports_together(stubs, catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Four slots finishing together: their reports share calls (fewer calls than results), every result
    applies once, the claims that came with them ran, and every scene ends DONE."""
    await _ingest(stubs, "a", "b", "c")
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        loop = await _run_loop(channel, tmp_path, expected=6, concurrency=4)
    assert loop.reports.results == 6 and loop.reports.calls < loop.reports.results
    assert await _scene_statuses(stubs, "a", "b", "c") == [types_pb2.STATUS_DONE] * 6


async def test_idle_slots_share_one_long_poll(stubs, catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Four idle slots wait on one LeaseTasks call: the tasks an ingestion makes ready are claimed by
    one call and spread over the slots (with a LeaseTask per slot, each woken slot ran a claim)."""
    running: list[int] = []
    all_running = asyncio.Event()
    calls_when_all_ran: list[int] = []

    async def handler(task, context):  # type: ignore[no-untyped-def]
        running.append(task.task_id)
        if len(running) == 4:
            calls_when_all_ran.append(loop.idle.calls)
            all_running.set()
        await all_running.wait()
        return Outcome(Status.DONE)

    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        loop = LeaseLoop(
            channel, LoopConfig(DOWNLOAD, "idle", tmp_path, concurrency=4, lease_wait=30),
            handler, StatusBoard("idle"),
        )
        loop.start()
        # Whether the shared long-poll is already waiting or starts after the commits, the tasks of a
        # commit are claimed by one call; a LeaseTask per slot would be four calls either way.
        await _ingest(stubs, "a", "b")  # two AOIs of two scenes
        await asyncio.wait_for(all_running.wait(), 30)
        await loop.drain(5)
    assert sorted(running) == sorted(set(running)) and len(running) == 4
    # Two ingestions (two commits of two tasks): one call claimed each pair, or both if the second
    # commit came before the first claim ran; a call per slot made four.
    assert calls_when_all_ran in ([1], [2])
    assert await _scene_statuses(stubs, "a", "b") == [types_pb2.STATUS_DONE] * 4


class _OldTasks(tasks_pb2_grpc.TasksServicer):
    """A catalogue from before ReportResults and LeaseTasks (the generated base answers UNIMPLEMENTED for
    them): forwards the other calls to the real one."""

    def __init__(self, stub: tasks_pb2_grpc.TasksStub):
        self._stub = stub

    async def LeaseTask(self, request, context):  # type: ignore[no-untyped-def]
        return await self._stub.LeaseTask(request, timeout=context.time_remaining())

    async def Heartbeat(self, request, context):  # type: ignore[no-untyped-def]
        return await self._stub.Heartbeat(request, timeout=context.time_remaining())

    async def ReportResult(self, request, context):  # type: ignore[no-untyped-def]
        return await self._stub.ReportResult(request, timeout=context.time_remaining())


async def test_lease_loop_reports_alone_to_an_older_catalogue(stubs, catalogue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """UNIMPLEMENTED once, then ReportResult per result: the same work gets done."""
    await _ingest(stubs, "a", "b")
    async with grpc.aio.insecure_channel(catalogue.target) as upstream:
        server = grpc.aio.server()
        tasks_pb2_grpc.add_TasksServicer_to_server(_OldTasks(tasks_pb2_grpc.TasksStub(upstream)), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                loop = await _run_loop(channel, tmp_path, expected=4, concurrency=2)
        finally:
            await server.stop(None)
    assert loop.reports._single and loop.idle._single  # LeaseTask per idle slot, ReportResult per result
    assert await _scene_statuses(stubs, "a", "b") == [types_pb2.STATUS_DONE] * 4
