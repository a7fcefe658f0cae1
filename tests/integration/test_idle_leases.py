"""IdleLeases (libs/worker/leasing.py) against a real gRPC server on loopback whose LeaseTasks the test
controls: the idle slots' shared long-poll, a slot cancelled while it is in flight, a failed call."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from libs.worker.leasing import IdleLeases
from protos.ingester.v1 import tasks_pb2, tasks_pb2_grpc

DOWNLOAD = tasks_pb2.TASK_KIND_DOWNLOAD


class _Tasks(tasks_pb2_grpc.TasksServicer):
    """LeaseTasks answers what the test puts in `answers`, once `release` is set."""

    def __init__(self) -> None:
        self.requests: list[tasks_pb2.LeaseTasksRequest] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()
        self.answers: list[list[int] | grpc.StatusCode] = []

    async def LeaseTasks(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        self.arrived.set()
        await self.release.wait()
        answer = self.answers.pop(0) if self.answers else []
        if isinstance(answer, grpc.StatusCode):
            await context.abort(answer, "test")
        return tasks_pb2.LeaseTasksResponse(tasks=[tasks_pb2.Task(task_id=i) for i in answer])


@pytest.fixture
async def served():  # type: ignore[no-untyped-def]
    servicer = _Tasks()
    server = grpc.aio.server()
    tasks_pb2_grpc.add_TasksServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield servicer, tasks_pb2_grpc.TasksStub(channel)
    await server.stop(None)


async def _slots_waiting(leases: IdleLeases, servicer: _Tasks, count: int) -> list[asyncio.Task[tasks_pb2.Task | None]]:
    slots = [asyncio.create_task(leases.take()) for _ in range(count)]
    await asyncio.wait_for(servicer.arrived.wait(), 10)
    return slots


async def test_one_call_for_all_idle_slots_and_a_cancelled_slot_gives_its_task_back(served) -> None:  # type: ignore[no-untyped-def]
    servicer, stub = served
    given_back: list[int] = []

    async def give_back(task: tasks_pb2.Task) -> None:
        given_back.append(task.task_id)

    leases = IdleLeases(stub, DOWNLOAD, "w", 5.0, asyncio.Event(), give_back)
    slots = await _slots_waiting(leases, servicer, 3)
    assert [r.max_tasks for r in servicer.requests] == [3]  # one call, for the three
    slots[0].cancel()  # a drain past its grace while the call is in flight
    servicer.answers.append([11, 12, 13])
    servicer.release.set()
    results = await asyncio.gather(*slots, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    handed = sorted(r.task_id for r in results[1:] if isinstance(r, tasks_pb2.Task))
    # Two slots got a task each; the third task went back to the queue, none is lost or doubled.
    assert len(handed) == 2 and sorted([*handed, *given_back]) == [11, 12, 13]
    await leases.close()


async def test_a_failed_call_fails_every_waiting_slot_and_the_next_call_is_made(served) -> None:  # type: ignore[no-untyped-def]
    servicer, stub = served

    async def give_back(task: tasks_pb2.Task) -> None:
        raise AssertionError("nothing to give back")

    leases = IdleLeases(stub, DOWNLOAD, "w", 5.0, asyncio.Event(), give_back)
    servicer.answers += [grpc.StatusCode.UNAVAILABLE, [7]]
    slots = await _slots_waiting(leases, servicer, 2)
    servicer.release.set()
    for result in await asyncio.gather(*slots, return_exceptions=True):
        assert isinstance(result, grpc.aio.AioRpcError) and result.code() == grpc.StatusCode.UNAVAILABLE
    task = await asyncio.wait_for(leases.take(), 10)  # the slot asks again: a new call
    assert task is not None and task.task_id == 7 and len(servicer.requests) == 2
    await leases.close()


async def test_stopping_answers_the_waiting_slots_with_nothing(served) -> None:  # type: ignore[no-untyped-def]
    servicer, stub = served
    stopping = asyncio.Event()

    async def give_back(task: tasks_pb2.Task) -> None:
        raise AssertionError("nothing to give back")

    leases = IdleLeases(stub, DOWNLOAD, "w", 30.0, stopping, give_back)
    slots = await _slots_waiting(leases, servicer, 2)
    stopping.set()  # the call is cancelled; the slots are answered at once, not at the long-poll's end
    assert await asyncio.wait_for(asyncio.gather(*slots), 5) == [None, None]
    servicer.release.set()
    await leases.close()
