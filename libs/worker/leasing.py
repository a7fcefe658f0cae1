"""One long-poll for all the idle slots of a worker: `LeaseTasks` for as many tasks as slots wait.

Each idle slot used to hold its own `LeaseTask` long-poll. When a commit made tasks ready, the catalogue
woke every one of them, and each ran a claim statement: with 8 idle processor slots, a download's DONE
report cost up to 8 claims, most of them finding nothing (`geocube_lease_claims_total{outcome="empty"}`),
and the slots that did get a task got one each. Here the idle slots of a worker wait together on one
call that asks for as many tasks as they are (`max_tasks`), claimed in one statement; while it is in
flight, slots that become idle wait for the next call. A slot that finishes a task still gets its next
one from its own report (`ReportResults.lease_next`, libs/worker/reporting.py): this only serves slots
that found nothing to do.

A catalogue without `LeaseTasks` answers UNIMPLEMENTED: from then on each idle slot long-polls alone with
`LeaseTask`, as before.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from protos.ingester.v1 import tasks_pb2, tasks_pb2_grpc

logger = logging.getLogger(__name__)

MAX_TASKS = 100  # the catalogue's bound per call

# The call's deadline exceeds the long-poll wait by this much, so that an idle catalogue answers
# "nothing ready" before our deadline fires.
CALL_MARGIN = 10.0


class IdleLeases:
    def __init__(
        self,
        stub: tasks_pb2_grpc.TasksStub,
        kind: tasks_pb2.TaskKind,
        worker_id: str,
        wait: float,
        stopping: asyncio.Event,
        give_back: Callable[[tasks_pb2.Task], Awaitable[None]],
    ):
        self._stub = stub
        self._kind = kind
        self._worker_id = worker_id
        self._wait = wait
        self._stopping = stopping
        self._give_back = give_back  # for a task claimed for a slot that was cancelled meanwhile
        self._waiting: collections.deque[asyncio.Future[tasks_pb2.Task | None]] = collections.deque()
        self._poller: asyncio.Task[None] | None = None
        self._single = False  # the catalogue has no LeaseTasks
        self.calls = 0  # for tests and the benchmark

    async def take(self) -> tasks_pb2.Task | None:
        """A task for an idle slot; None when a long-poll ended with nothing ready, or the loop is
        stopping. Raises grpc.aio.AioRpcError when the call failed (the slot backs off)."""
        if self._single:
            return await self._lease_one()
        waiter: asyncio.Future[tasks_pb2.Task | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="idle-leases")
        try:
            return await waiter
        except asyncio.CancelledError:
            # Cancelled (a drain past its grace) just after the poller handed this slot a task: give it
            # back rather than leave it to lease expiry.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                task = waiter.result()
                if task is not None:
                    await asyncio.shield(self._give_back(task))
            raise

    async def close(self) -> None:
        """Ends the long-poll in flight, if any (the loop has stopped: nobody waits for it)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)

    def _live(self) -> int:
        """Slots waiting now (a cancelled slot's waiter is done)."""
        return sum(not waiter.done() for waiter in self._waiting)

    def _next_waiter(self) -> asyncio.Future[tasks_pb2.Task | None] | None:
        """The slot waiting longest, taken off the queue; None when none is left."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                return waiter
        return None

    async def _poll(self) -> None:
        try:
            await self._serve()
        finally:
            # Whatever ended the loop (stop, no slot left, an error): no slot is left waiting.
            self._answer_all(lambda waiter: waiter.set_result(None))

    async def _serve(self) -> None:
        while (wanted := self._live()) and not self._stopping.is_set():
            try:
                tasks = await self._call(min(wanted, MAX_TASKS))
            except asyncio.CancelledError:
                self._answer_all(lambda waiter: waiter.cancel())
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    logger.info("the catalogue has no LeaseTasks: each idle slot long-polls alone")
                    self._single = True  # the slots, answered None, ask again alone
                else:
                    self._fail_all(exc)
                return
            except Exception as exc:  # noqa: BLE001 - a bug: the slots log it and back off
                self._fail_all(exc)
                return
            if not tasks:
                # Stopping, or the long-poll ended with nothing ready: the slots ask again (and see a
                # stop meanwhile).
                return
            for task in tasks:
                waiter = self._next_waiter()
                if waiter is not None:
                    waiter.set_result(task)
                else:  # its slot was cancelled (a drain past its grace) while the call was in flight
                    await self._give_back(task)

    def _fail_all(self, exc: BaseException) -> None:
        self._answer_all(lambda waiter: waiter.set_exception(exc))

    def _answer_all(self, answer: Callable[[asyncio.Future[tasks_pb2.Task | None]], object]) -> None:
        waiting, self._waiting = self._waiting, collections.deque()
        for waiter in waiting:
            if not waiter.done():
                answer(waiter)

    async def _call(self, wanted: int) -> list[tasks_pb2.Task] | None:
        """The tasks one long-poll claimed ([] if none became ready); None when stopping meanwhile."""
        request = tasks_pb2.LeaseTasksRequest(kind=self._kind, worker_id=self._worker_id, max_tasks=wanted)
        request.wait.FromTimedelta(dt.timedelta(seconds=self._wait))
        self.calls += 1
        response = await self._until_stopping(
            self._stub.LeaseTasks(request, timeout=self._wait + CALL_MARGIN)
        )
        return None if response is None else list(response.tasks)

    async def _lease_one(self) -> tasks_pb2.Task | None:
        request = tasks_pb2.LeaseTaskRequest(kind=self._kind, worker_id=self._worker_id)
        request.wait.FromTimedelta(dt.timedelta(seconds=self._wait))
        self.calls += 1
        response = await self._until_stopping(self._stub.LeaseTask(request, timeout=self._wait + CALL_MARGIN))
        return response.task if response is not None and response.HasField("task") else None

    async def _until_stopping(self, call: Awaitable[Any]) -> Any:
        """The call's answer; None if the loop began to stop first (the call is then cancelled).

        Should the catalogue lease us tasks in that very instant, the answer may still arrive (then the
        tasks are returned and the slots hand them back) or be lost (they come back at lease expiry)."""
        answer: asyncio.Future[Any] = asyncio.ensure_future(call)
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({answer, stopping}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            answer.cancel()
            raise
        finally:
            stopping.cancel()
        if not answer.done():
            answer.cancel()
            try:
                await answer
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the caller itself is being cancelled, not just the call
                return None
        return answer.result()
