"""Reports of all the slots of a worker, sent together: one `ReportResults` call in flight at a time.

Each result used to be one `ReportResult` call: per task, a gRPC round trip with its interceptors on both
sides, a pool checkout and a claim statement for the next task in the catalogue. Here a slot's report
joins the reports waiting to be sent; while one call is in flight the next ones wait, and go together in
the following call, which also claims as many next tasks as the reporting slots want (`lease_max`), in
one statement. Nothing waits on purpose: a lone report is sent at once, batches grow only while the
catalogue is busy answering, which is when sharing a call pays (the same rule as the catalogue's group
commit, services/catalogue/tasks/group_commit.py).

The semantics of a report are those of `ReportResult`: each result gets its own outcome; the call
failing as a whole fails every report in it, and each slot retries its own (a result recorded in a call
whose answer was lost is then refused as no longer leased, as for a lost `ReportResult` answer). A
catalogue that predates `ReportResults` answers UNIMPLEMENTED: from then on each report is sent alone
with `ReportResult`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import grpc

from protos.ingester.v1 import tasks_pb2, tasks_pb2_grpc

logger = logging.getLogger(__name__)

MAX_BATCH = 100  # the catalogue's bound per call
_FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]

Answer = tuple[tasks_pb2.ReportOutcome, tasks_pb2.Task | None]


@dataclasses.dataclass
class _Pending:
    request: tasks_pb2.ReportResultRequest
    want_next: bool
    answer: asyncio.Future[Answer]


class ReportSender:
    def __init__(self, stub: tasks_pb2_grpc.TasksStub, kind: tasks_pb2.TaskKind, worker_id: str, timeout: float):
        self._stub = stub
        self._kind = kind
        self._worker_id = worker_id
        self._timeout = timeout
        self._waiting: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._single = False  # the catalogue has no ReportResults
        self.calls = 0  # for tests and the benchmark: calls made, results sent
        self.results = 0

    async def send(self, request: tasks_pb2.ReportResultRequest, want_next: bool) -> Answer:
        """The outcome of `request` and, with `want_next`, the next task leased for the caller, if one was
        ready. Raises grpc.aio.AioRpcError when the call carrying it failed as a whole."""
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if self._single:  # sent from the caller's own context: the call's metadata carries its trace
            await self._call_single(_Pending(request, want_next, answer))
            return await answer
        self._waiting.append(_Pending(request, want_next, answer))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="report-sender")
        return await answer

    async def _flush(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            try:
                await self._call(batch)
            except BaseException as exc:  # no slot may be left waiting, whatever happened
                for pending in batch:
                    if not pending.answer.done():
                        pending.answer.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise

    async def _call(self, batch: list[_Pending]) -> None:
        if self._single:
            await asyncio.gather(*(self._call_single(pending) for pending in batch))
            return
        wanted = sum(pending.want_next for pending in batch)
        request = tasks_pb2.ReportResultsRequest(
            results=[pending.request for pending in batch],
            lease_next=self._kind if wanted else tasks_pb2.TASK_KIND_UNSPECIFIED,
            lease_max=wanted,
            worker_id=self._worker_id,
        )
        self.calls += 1
        self.results += len(batch)
        try:
            response = await self._stub.ReportResults(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            logger.info("the catalogue has no ReportResults: reporting each result alone")
            self._single = True
            await self._call(batch)
            return
        if len(response.outcomes) != len(batch):
            raise RuntimeError(f"{len(response.outcomes)} outcomes for {len(batch)} results")
        next_tasks = iter(response.next_tasks)
        for pending, outcome in zip(batch, response.outcomes, strict=True):
            # Any slot that asked may take any of the claimed tasks: they are all leased to this worker.
            task = next(next_tasks, None) if pending.want_next else None
            if not pending.answer.done():
                pending.answer.set_result((outcome, task))
            elif task is not None:  # the slot was cancelled meanwhile: the task returns at lease expiry
                logger.warning("task %d: claimed for a stopped slot, left to lease expiry", task.task_id)

    async def _call_single(self, pending: _Pending) -> None:
        request = pending.request
        request.lease_next = self._kind if pending.want_next else tasks_pb2.TASK_KIND_UNSPECIFIED
        request.worker_id = self._worker_id
        self.calls += 1
        self.results += 1
        try:
            response = await self._stub.ReportResult(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
                return
            outcome = tasks_pb2.ReportOutcome(code=_FAILED_PRECONDITION, message=exc.details() or "")
            task = None
        else:
            outcome = tasks_pb2.ReportOutcome(applied=response.applied)
            task = response.next_task if response.HasField("next_task") else None
        if not pending.answer.done():
            pending.answer.set_result((outcome, task))
