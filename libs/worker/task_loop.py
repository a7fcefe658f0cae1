"""The lease loop: `concurrency` slots, each leasing one task at a time from the catalogue and running it.

Per slot: wait for a task with the other idle slots (one `LeaseTasks` long-poll for all of them,
libs/worker/leasing.py: the catalogue answers as soon as tasks are ready, so no sleep-polling), run the
job in a fresh working directory while a heartbeat renews the lease every third of its duration, report
the outcome, then run the outcome's `after_report` clean-up (only when the report was
accepted). A heartbeat refused with FAILED_PRECONDITION means the lease is gone
(expired and re-leased, or the task cancelled): the job is cancelled and nothing is reported.

When the catalogue cannot be reached the slot backs off exponentially (capped); the loop logs only the
changes between "reachable" and "unreachable", not every failed call.

`drain(grace)` stops leasing, lets running jobs finish for up to `grace` seconds, then cancels what is
left without reporting: those leases expire and the catalogue hands the tasks to another worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import pathlib
import random
import shutil
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import grpc

from protos.ingester.v1 import tasks_pb2, tasks_pb2_grpc
from libs.domain.models import Status
from libs.runtime import tracing
from libs.worker import convert, telemetry
from libs.worker.metrics import WorkerMetrics
from libs.worker.outcome import Outcome, outcome_for_error
from libs.worker.leasing import IdleLeases
from libs.worker.reporting import ReportSender
from libs.worker.status import CurrentTask, StatusBoard

logger = logging.getLogger(__name__)

_RPC_TIMEOUT = 10.0
_FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    kind: tasks_pb2.TaskKind
    worker_id: str
    workdir: pathlib.Path  # each task works in <workdir>/<uuid>
    concurrency: int = 1
    lease_wait: float = 30.0  # long-poll bound of one LeaseTask call, seconds
    backoff_initial: float = 0.5  # first pause after a failed LeaseTask, doubled up to backoff_max
    backoff_max: float = 30.0
    report_attempts: int = 5  # a result that cannot be delivered is retried this many times
    # Applied to every reported message: clients read them, they must not learn the worker's folders.
    redact: Callable[[str], str] = str


@dataclasses.dataclass
class TaskContext:
    """What a job receives besides its task: its private working directory and a progress reporter."""

    task: tasks_pb2.Task
    workdir: pathlib.Path
    board: StatusBoard
    metrics: WorkerMetrics = dataclasses.field(default_factory=WorkerMetrics)

    def progress(self, text: str) -> None:
        """Shown by GetStatus and sent with the next heartbeat."""
        self.board.set_progress(self.task.task_id, text)


Handler = Callable[[tasks_pb2.Task, TaskContext], Coroutine[Any, Any, Outcome]]


def describe_task(task: tasks_pb2.Task, started: dt.datetime) -> CurrentTask:
    if task.WhichOneof("job") == "process":
        tile = task.process.tile
        return CurrentTask(task.task_id, tile.scene.aoi, tile.scene.id, tile.id, tile.source_id, started)
    scene = task.download.scene
    return CurrentTask(task.task_id, scene.aoi, scene.id, 0, scene.source_id, started)


def _lease_seconds(expires: tasks_pb2.Task | tasks_pb2.HeartbeatResponse) -> float:
    remaining = expires.lease_expires.ToDatetime(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    return float(remaining.total_seconds())


async def _remove_workdir(workdir: pathlib.Path) -> None:
    try:
        # Many jobs leave nothing (a product stored as is, a graph without steps): one rmdir on the loop
        # costs less than the thread hop a tree removal takes.
        workdir.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        await asyncio.to_thread(shutil.rmtree, workdir, True)


class LeaseLoop:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        config: LoopConfig,
        handler: Handler,
        board: StatusBoard,
        metrics: WorkerMetrics | None = None,
    ):
        self._stub = tasks_pb2_grpc.TasksStub(channel)
        self._config = config
        # The slots' reports share ReportResults calls (libs/worker/reporting.py).
        self.reports = ReportSender(self._stub, config.kind, config.worker_id, _RPC_TIMEOUT)
        self._stopping = asyncio.Event()
        # The idle slots share one LeaseTasks long-poll (libs/worker/leasing.py).
        self.idle = IdleLeases(
            self._stub, config.kind, config.worker_id, config.lease_wait, self._stopping, self._give_back
        )
        self._handler = handler
        self._board = board
        self._metrics = metrics if metrics is not None else WorkerMetrics()
        self._slots: list[asyncio.Task[None]] = []
        self._reachable: bool | None = None  # None until the first LeaseTask answer or failure

    def start(self) -> None:
        for index in range(self._config.concurrency):
            self._slots.append(asyncio.create_task(self._slot(), name=f"lease-slot-{index}"))

    async def drain(self, grace: float) -> None:
        """Stops leasing; waits up to `grace` seconds for running jobs, then cancels them unreported."""
        self._board.draining = True
        self._stopping.set()
        if not self._slots:
            return
        pending = set(self._slots)
        if grace > 0:
            _, pending = await asyncio.wait(self._slots, timeout=grace)
        running = len(self._board.snapshot().current)
        for slot in pending:
            slot.cancel()
        if running:
            logger.warning("%d task(s) still running after %.1fs: left to lease expiry", running, grace)
        for result in await asyncio.gather(*self._slots, return_exceptions=True):
            if isinstance(result, Exception):
                logger.error("lease slot ended with an error", exc_info=result)
        await self.idle.close()

    # --- leasing -----------------------------------------------------------------------------------

    async def _slot(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                task = await self.idle.take()
            except Exception as exc:  # AioRpcError, or a bug: the slot backs off either way
                if isinstance(exc, grpc.aio.AioRpcError):
                    self._set_reachable(False, exc)
                else:
                    logger.error("leasing failed", exc_info=exc)
                failures += 1
                delay = min(self._config.backoff_max, self._config.backoff_initial * 2 ** (failures - 1))
                # Jitter keeps the slots of many workers from hammering a restarting catalogue in step.
                await self._pause(delay * random.uniform(0.5, 1.0))
                continue
            failures = 0
            self._set_reachable(True)
            # While the queue is busy each report claims the next task (ReportResults.lease_next): the
            # slot goes back to the idle slots' long-poll only when none was ready.
            while task is not None:
                if self._stopping.is_set():
                    # Claimed by the last report while the worker began to drain: hand it back now
                    # rather than at lease expiry (a temporary result: it goes back to the queue).
                    await self._give_back(task)
                    break
                current = task
                try:
                    task = await self._run(current)
                except Exception:
                    # A bug in the worker itself: keep the slot alive, the lease expires on its own.
                    logger.exception(
                        "task %d: worker error", current.task_id, extra={"task_id": current.task_id}
                    )
                    task = None

    def _set_reachable(self, reachable: bool, exc: grpc.aio.AioRpcError | None = None) -> None:
        if reachable == self._reachable:
            return
        if reachable:
            logger.info("catalogue reachable: leasing tasks", extra={"worker_id": self._config.worker_id})
        else:
            assert exc is not None
            logger.warning(
                "catalogue unreachable (%s: %s): backing off",
                exc.code().name,
                exc.details(),
                extra={"worker_id": self._config.worker_id},
            )
        self._reachable = reachable

    async def _pause(self, seconds: float) -> None:
        """Sleeps, but wakes up at once when the loop starts draining."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    # --- running one task --------------------------------------------------------------------------

    async def _run(self, task: tasks_pb2.Task) -> tasks_pb2.Task | None:
        """Runs and reports `task` in its own log context and span (a child of the trace that created
        the task); returns the next task the report claimed, if any."""
        current = describe_task(task, dt.datetime.now(dt.UTC))
        with telemetry.task_context(task, current, self._config.worker_id):
            return await self._run_in_context(task, current)

    async def _run_in_context(self, task: tasks_pb2.Task, current: CurrentTask) -> tasks_pb2.Task | None:
        log_extra = {"task_id": task.task_id, "worker_id": self._config.worker_id}
        logger.info(
            "task %d leased: %s (attempt %d)", task.task_id, current.source_id, task.attempt, extra=log_extra
        )
        self._board.begin(current)
        running = self._metrics.running.labels(self._metrics.kind or "task")
        running.inc()
        started = time.perf_counter()
        workdir = self._config.workdir / uuid.uuid4().hex
        try:
            try:
                # On the loop, not a thread: one mkdir in the worker's own local folder costs less than
                # the thread hop (two GIL hand-overs) did, once per task.
                workdir.mkdir(parents=True)
            except OSError as exc:
                # The reference classes a working directory it cannot create as a transient failure.
                outcome: Outcome | None = Outcome(Status.FAILED, f"workdir {workdir}: {exc}", temporary=True)
            else:
                outcome = await self._work(task, TaskContext(task, workdir, self._board, self._metrics))
            if outcome is None:
                self._metrics.observe_task("LOST", time.perf_counter() - started)
                return None
            if outcome.status == Status.DONE and not outcome.temporary:
                self._board.tasks_done += 1
            else:
                self._board.tasks_failed += 1
            label = "TEMPORARY" if outcome.temporary else outcome.status.value
            self._metrics.observe_task(label, time.perf_counter() - started)
            return await self._report(task, outcome)
        finally:
            running.dec()
            self._board.end(task.task_id)
            # Removed whatever happened (spec §8.1, §9); a thread of a cancelled job may still write here.
            await _remove_workdir(workdir)

    async def _work(self, task: tasks_pb2.Task, context: TaskContext) -> Outcome | None:
        """Runs the handler under heartbeats; None when the lease was lost (nothing to report)."""
        lost = asyncio.Event()
        job = asyncio.create_task(self._handler(task, context))
        beat = asyncio.create_task(self._heartbeat(task, job, lost))
        try:
            await asyncio.wait({job})
        finally:
            beat.cancel()
            job.cancel()
            await asyncio.gather(beat, job, return_exceptions=True)
        if lost.is_set() or job.cancelled():
            return None
        exc = job.exception()
        if exc is not None:
            # Jobs turn their own errors into outcomes; reaching here is a bug in the job code.
            logger.error(
                "task %d: unexpected error", task.task_id, exc_info=exc, extra={"task_id": task.task_id}
            )
            return outcome_for_error(exc, retriable=False, honour_fatal=True)
        return job.result()

    async def _heartbeat(self, task: tasks_pb2.Task, job: asyncio.Task[Outcome], lost: asyncio.Event) -> None:
        # A third of the lease: two heartbeats may fail before the lease expires.
        period = min(60.0, max(0.05, _lease_seconds(task) / 3))
        while True:
            await asyncio.sleep(period)
            request = tasks_pb2.HeartbeatRequest(
                task_id=task.task_id,
                lease_token=task.lease_token,
                progress=self._board.progress(task.task_id),
            )
            try:
                response = await self._stub.Heartbeat(request, timeout=max(1.0, period))
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    logger.warning(
                        "task %d: lease lost (%s): abandoning it",
                        task.task_id,
                        exc.details(),
                        extra={"task_id": task.task_id},
                    )
                    lost.set()
                    job.cancel()
                    return
                logger.warning(
                    "task %d: heartbeat failed (%s)",
                    task.task_id,
                    exc.code().name,
                    extra={"task_id": task.task_id},
                )
                continue
            period = min(60.0, max(0.05, _lease_seconds(response) / 3))

    async def _give_back(self, task: tasks_pb2.Task) -> None:
        request = tasks_pb2.ReportResultRequest(
            task_id=task.task_id,
            lease_token=task.lease_token,
            temporary=True,
            message="worker stopping before it started the task",
        )
        try:
            await self._stub.ReportResult(request, timeout=_RPC_TIMEOUT)
            logger.info("task %d: given back (stopping)", task.task_id, extra={"task_id": task.task_id})
        except grpc.aio.AioRpcError as exc:
            logger.warning(
                "task %d: not given back (%s): it returns at lease expiry",
                task.task_id,
                exc.code().name,
                extra={"task_id": task.task_id},
            )

    async def _report(self, task: tasks_pb2.Task, outcome: Outcome) -> tasks_pb2.Task | None:
        """Reports the outcome (retrying transient RPC failures); returns the next task it claimed."""
        request = tasks_pb2.ReportResultRequest(
            task_id=task.task_id,
            lease_token=task.lease_token,
            status=convert.status_to_proto(outcome.status),
            message=self._config.redact(outcome.message),
            temporary=outcome.temporary,
            worker_id=self._config.worker_id,
            # The call may carry other tasks' results: this one's trace and request id go with it.
            traceparent=tracing.current_traceparent(),
            request_id=task.request_id,
        )
        extra = {"task_id": task.task_id}
        label = "temporary failure" if outcome.temporary else outcome.status.value
        for attempt in range(1, self._config.report_attempts + 1):
            try:
                # Decided at each attempt: a draining worker claims nothing more.
                answer, next_task = await self.reports.send(request, want_next=not self._stopping.is_set())
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    logger.warning(
                        "task %d: lease lost before the report (%s)", task.task_id, exc.details(), extra=extra
                    )
                    return None
                if attempt == self._config.report_attempts:
                    # The lease expires and the task is leased again: the work is redone, nothing is lost.
                    logger.error(
                        "task %d: cannot report %s (%s)", task.task_id, label, exc.code().name, extra=extra
                    )
                    return None
                await asyncio.sleep(min(8.0, 2.0 ** (attempt - 1)))
                continue
            if answer.code == _FAILED_PRECONDITION:
                logger.warning(
                    "task %d: lease lost before the report (%s)", task.task_id, answer.message, extra=extra
                )
                return next_task
            if answer.code != 0:  # refused as such (INVALID_ARGUMENT): sending it again cannot help
                logger.error(
                    "task %d: report of %s refused (%s)", task.task_id, label, answer.message, extra=extra
                )
                return next_task
            logger.info(
                "task %d: reported %s%s%s",
                task.task_id,
                label,
                ": " + outcome.message if outcome.message else "",
                "" if answer.applied else " (not applied by the workflow)",
                extra=extra,
            )
            if outcome.after_report is not None:
                try:
                    await outcome.after_report()
                except Exception:
                    # The result is committed: a failed clean-up only leaves files behind.
                    logger.exception("task %d: clean-up after the report failed", task.task_id, extra=extra)
            return next_task
        return None
