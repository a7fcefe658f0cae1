"""Tasks gRPC servicer: the lease/heartbeat/report API the workers pull from."""

from __future__ import annotations

import asyncio
import logging

import grpc

from protos.ingester.v1 import tasks_pb2, tasks_pb2_grpc
from services.catalogue.tasks.queue import Lease, TaskQueue
from libs.domain import models
from libs.domain import proto_convert as pc
from libs.runtime import logs, tracing
from libs.runtime.errors import IngesterError, InvalidArgument

logger = logging.getLogger(__name__)

_KINDS = {
    tasks_pb2.TASK_KIND_DOWNLOAD: models.TaskKind.DOWNLOAD,
    tasks_pb2.TASK_KIND_PROCESS: models.TaskKind.PROCESS,
}
_MAX_WAIT = 60.0  # seconds; a longer long-poll would outlive common proxy idle timeouts
_CLAIM_MARGIN = 2.0  # seconds of the report's deadline a claim of the next task needs, at least
_MAX_BATCH = 100  # tasks per LeaseTasks / results per ReportResults: bounds one statement's locks and size


def lease_to_proto(lease: Lease) -> tasks_pb2.Task:
    task = tasks_pb2.Task(
        task_id=lease.task.id,
        lease_token=str(lease.task.lease_token),
        attempt=lease.task.attempts,
        traceparent=lease.task.traceparent,
        request_id=lease.task.request_id,
    )
    task.lease_expires.FromDatetime(lease.task.lease_expires)
    if lease.tile is None:
        task.kind = tasks_pb2.TASK_KIND_DOWNLOAD
        pc.scene_to_proto(lease.scene, task.download.scene)
    else:
        task.kind = tasks_pb2.TASK_KIND_PROCESS
        pc.tile_to_proto(lease.tile, task.process.tile)
        if lease.previous is not None:
            pc.tile_to_proto(lease.previous, task.process.previous)
        if lease.reference is not None:
            pc.tile_to_proto(lease.reference, task.process.reference)
    return task


class TasksServicer(tasks_pb2_grpc.TasksServicer):
    def __init__(self, queue: TaskQueue):
        self._queue = queue

    async def LeaseTask(
        self, request: tasks_pb2.LeaseTaskRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.LeaseTaskResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise InvalidArgument("kind", "TASK_KIND_DOWNLOAD or TASK_KIND_PROCESS")
        wait = min(request.wait.ToTimedelta().total_seconds(), _MAX_WAIT)
        remaining = context.time_remaining()
        if remaining is not None:
            wait = min(wait, max(remaining - 1.0, 0.0))  # answer before the caller's deadline
        lease = await self._queue.lease(kind, request.worker_id, wait)
        return (
            tasks_pb2.LeaseTaskResponse(task=lease_to_proto(lease))
            if lease
            else tasks_pb2.LeaseTaskResponse()
        )

    async def LeaseTasks(
        self, request: tasks_pb2.LeaseTasksRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.LeaseTasksResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise InvalidArgument("kind", "TASK_KIND_DOWNLOAD or TASK_KIND_PROCESS")
        if not 0 <= request.max_tasks <= _MAX_BATCH:
            raise InvalidArgument("max_tasks", f"from 1 to {_MAX_BATCH} (0 means 1)")
        wait = min(request.wait.ToTimedelta().total_seconds(), _MAX_WAIT)
        remaining = context.time_remaining()
        if remaining is not None:
            wait = min(wait, max(remaining - 1.0, 0.0))
        leases = await self._queue.lease_many(kind, request.worker_id, wait, request.max_tasks or 1)
        return tasks_pb2.LeaseTasksResponse(tasks=[lease_to_proto(lease) for lease in leases])

    async def Heartbeat(
        self, request: tasks_pb2.HeartbeatRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.HeartbeatResponse:
        expires = await self._queue.heartbeat(request.task_id, request.lease_token, request.progress)
        response = tasks_pb2.HeartbeatResponse()
        response.lease_expires.FromDatetime(expires)
        return response

    async def ReportResult(
        self, request: tasks_pb2.ReportResultRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.ReportResultResponse:
        status = pc.status_from_proto(request.status)
        if status is None and not request.temporary:
            raise InvalidArgument("status", "a result is DONE, RETRY or FAILED")
        next_kind = None
        holder: str | None = None
        check_holder = ""  # a DONE report's lease holder, checked with the report itself
        if request.lease_next != tasks_pb2.TASK_KIND_UNSPECIFIED:
            next_kind = _KINDS.get(request.lease_next)
            if next_kind is None:  # refused before the result is recorded, not after
                raise InvalidArgument("lease_next", "TASK_KIND_DOWNLOAD or TASK_KIND_PROCESS")
            # The next task goes to the worker holding the reported lease, never to a worker the request
            # merely names (anyone could otherwise lease tasks in another worker's name). A DONE report
            # naming its worker is checked in its own statement (group_commit.py): no extra round trip.
            if status == models.Status.DONE and not request.temporary and request.worker_id:
                holder = check_holder = request.worker_id
            else:
                holder = await self._queue.lease_holder(request.task_id, request.lease_token)
                if holder is not None and request.worker_id and request.worker_id != holder:
                    raise InvalidArgument(
                        "worker_id",
                        f"task {request.task_id} is leased by another worker: lease_next claims for it only",
                    )
        applied = await self._queue.report(
            request.task_id,
            request.lease_token,
            status or models.Status.RETRY,
            request.message,
            request.temporary,
            holder=check_holder,
        )
        response = tasks_pb2.ReportResultResponse(applied=applied)
        remaining = context.time_remaining()
        if next_kind is not None and (remaining is None or remaining > _CLAIM_MARGIN):
            # The result is committed: from here on nothing may turn the answer into an error (the
            # worker would take its report for lost and skip its clean-up). A failed claim only means
            # the worker leases its next task the usual way.
            try:
                lease = await self._queue.lease(next_kind, holder or request.worker_id, 0.0)
            except Exception:
                logger.warning("task %s: claiming the next task failed", request.task_id, exc_info=True)
            else:
                if lease is not None:
                    response.next_task.CopyFrom(lease_to_proto(lease))
        return response

    async def ReportResults(
        self, request: tasks_pb2.ReportResultsRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.ReportResultsResponse:
        if len(request.results) > _MAX_BATCH:
            raise InvalidArgument("results", f"at most {_MAX_BATCH} per call")
        next_kind = None
        if request.lease_next != tasks_pb2.TASK_KIND_UNSPECIFIED:
            next_kind = _KINDS.get(request.lease_next)
            if next_kind is None:  # refused before any result is recorded, not after
                raise InvalidArgument("lease_next", "TASK_KIND_DOWNLOAD or TASK_KIND_PROCESS")
            if not request.worker_id:
                raise InvalidArgument("worker_id", "required with lease_next: the worker the tasks go to")
            if not 0 <= request.lease_max <= _MAX_BATCH:
                raise InvalidArgument("lease_max", f"from 0 to {_MAX_BATCH}")
        holder = request.worker_id if next_kind is not None else ""
        # Started together: the DONE results reach the group commit at once and share one statement.
        results = await asyncio.gather(
            *(self._report_one(index, item, holder) for index, item in enumerate(request.results)),
            return_exceptions=True,
        )
        response = tasks_pb2.ReportResultsResponse()
        for result in results:
            if isinstance(result, IngesterError):
                response.outcomes.add(code=result.code.value[0], message=str(result))
            elif isinstance(result, BaseException):
                # Not a refusal of this result (a database outage, a bug): the call fails as a whole; the
                # worker retries it, and a result recorded meanwhile is then refused as no longer leased.
                raise result
            else:
                response.outcomes.add(applied=result)
        recorded = any(outcome.code == 0 for outcome in response.outcomes)
        remaining = context.time_remaining()
        if next_kind is not None and request.lease_max > 0 and recorded and (
            remaining is None or remaining > _CLAIM_MARGIN
        ):
            # Only for a worker that proved, by a recorded result, to hold a lease (ReportResult's rule).
            # The results are committed: a failed claim only means the worker leases the usual way.
            try:
                leases = await self._queue.lease_many(next_kind, holder, 0.0, request.lease_max)
            except Exception:
                logger.warning("claiming the next %d task(s) failed", request.lease_max, exc_info=True)
            else:
                response.next_tasks.extend(lease_to_proto(lease) for lease in leases)
        return response

    async def _report_one(self, index: int, item: tasks_pb2.ReportResultRequest, holder: str) -> bool:
        status = pc.status_from_proto(item.status)
        if status is None and not item.temporary:
            raise InvalidArgument(f"results[{index}].status", "a result is DONE, RETRY or FAILED")
        check_holder = holder
        if holder and (status != models.Status.DONE or item.temporary):
            # Only a DONE report checks its holder inside its statement (group_commit.py).
            check_holder = ""
            current = await self._queue.lease_holder(item.task_id, item.lease_token)
            if current is not None and current != holder:
                raise InvalidArgument(
                    "worker_id", f"task {item.task_id} is leased by another worker: lease_next claims for it only"
                )
        # Each result in its own task's trace and request id (a call carries several): what the tasks it
        # releases remember. Run by gather as a task of its own, so nothing leaks to the other results.
        with tracing.continued(item.traceparent), logs.bind(request_id=item.request_id):
            return await self._queue.report(
                item.task_id, item.lease_token, status or models.Status.RETRY, item.message, item.temporary,
                holder=check_holder,
            )
