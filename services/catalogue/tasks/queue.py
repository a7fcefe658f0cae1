"""The task queue workers pull from: lease (long-poll), heartbeat, report.

Ready tasks are announced by NOTIFY at commit; `TaskNotifier` turns notifications into asyncio events, so
a waiting LeaseTask answers within milliseconds of the commit that made a task ready, on any replica. The
only timed wake-up is the earliest lease expiry, when a dead worker's task must be taken back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from services.catalogue.metrics import QueueMetrics
from services.catalogue.store import aois, tasks
from services.catalogue.workflow import transitions
from services.catalogue.tasks.group_commit import ReportBatcher
from libs.domain import models
from libs.domain.models import Status
from libs.runtime.errors import FailedPrecondition, InvalidArgument

logger = logging.getLogger(__name__)


class TaskNotifier:
    """Listens on the task and AOI channels. `event(kind)` / `aoi_event(aoi)` return an event set at the
    next notification for that kind / AOI: take it *before* checking the state, then wait on it, and no
    wake-up can be missed."""

    def __init__(self, dsn: str):
        self._dsn = dsn
        self._events: dict[object, asyncio.Event] = {}
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.closing = False

    def close(self) -> None:
        """The process is stopping: waiting long-polls (LeaseTask, WaitAoiStatus) answer at once and no
        new one waits. Without it every idle worker's LeaseTask stays open for the whole grace period
        of `server.stop`, and a SIGTERMed catalogue stops that much later (found by the fault tests)."""
        self.closing = True
        self.wake_all()

    def event(self, kind: models.TaskKind) -> asyncio.Event:
        return self._events.setdefault(kind, asyncio.Event())

    def aoi_event(self, aoi: str) -> asyncio.Event:
        return self._events.setdefault(("aoi", aoi), asyncio.Event())

    def _wake(self, key: object) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        events, self._events = self._events, {}
        for event in events.values():
            event.set()

    async def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="task-notifier")
        await asyncio.wait_for(self._ready.wait(), timeout=30)

    async def stop(self) -> None:
        if self._runner:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {tasks.CHANNEL}")
                    await conn.execute(f"LISTEN {aois.AOI_CHANNEL}")
                    self._ready.set()
                    if delay > 0.1:  # only after a lost connection: operators see the recovery
                        logger.info("task notifier listening again")
                    delay = 0.1
                    # Anything committed while we were not listening: wake every waiter once.
                    self.wake_all()
                    async for note in conn.notifies():
                        if note.channel == aois.AOI_CHANNEL:
                            self._wake(("aoi", note.payload))
                        elif note.payload in models.TaskKind._value2member_map_:
                            self._wake(models.TaskKind(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — database restart: reconnect with a capped back-off
                logger.warning("task notifier lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


@dataclasses.dataclass
class Lease:
    task: tasks.LeasedTask
    scene: models.Scene
    tile: models.Tile | None = None
    previous: models.Tile | None = None
    reference: models.Tile | None = None


class TaskQueue:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        notifier: TaskNotifier,
        lease_seconds: float,
        max_attempts: int,
        metrics: QueueMetrics | None = None,
    ):
        self._pool = pool
        self._notifier = notifier
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._metrics = metrics
        self.batcher = ReportBatcher(pool)

    async def lease(self, kind: models.TaskKind, worker_id: str, wait: float) -> Lease | None:
        leases = await self.lease_many(kind, worker_id, wait, 1)
        return leases[0] if leases else None

    async def lease_many(
        self, kind: models.TaskKind, worker_id: str, wait: float, limit: int
    ) -> list[Lease]:
        """Up to `limit` tasks, claimed together; long-polls up to `wait` until at least one is ready."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait, 0.0)
        while True:
            if self._notifier.closing:
                return []  # stopping: the worker asks again, and reaches a running replica
            event = self._notifier.event(kind)  # taken before the claim: no wake-up can be missed
            leases, next_expiry = await self._try_lease(kind, worker_id, limit)
            if leases:
                if self._metrics is not None:
                    self._metrics.leased.labels(kind.value).inc(len(leases))
                return leases
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            if next_expiry is not None:
                until_expiry = (next_expiry - dt.datetime.now(dt.UTC)).total_seconds()
                remaining = min(remaining, max(until_expiry, 0.0) + 0.01)
            try:
                await asyncio.wait_for(event.wait(), timeout=remaining)
            except TimeoutError:
                pass

    async def _try_lease(
        self, kind: models.TaskKind, worker_id: str, limit: int
    ) -> tuple[list[Lease], dt.datetime | None]:
        async with self._pool.connection() as conn:
            # The common case in one round trip: the claim, which also tells whether a lease expired and
            # reads the leased items, commits on its own (BEGIN and COMMIT were two of the five round
            # trips of a lease, the items two more).
            await conn.set_autocommit(True)
            try:
                claim = self._counted(await tasks.claim(conn, kind, worker_id, self.lease_seconds, limit), kind)
                if claim.tasks:
                    return self._leases(claim), None
            finally:
                await conn.set_autocommit(False)
            if not claim.expired:
                return [], claim.next_expiry
            async with conn.transaction():
                await self._reclaim_expired(conn, kind)
                claim = self._counted(
                    await tasks.claim(conn, kind, worker_id, self.lease_seconds, limit, unless_expired=False),
                    kind,
                )
                if not claim.tasks:
                    return [], await tasks.next_expiry(conn, kind)
                return self._leases(claim), None

    async def _reclaim_expired(self, conn: Any, kind: models.TaskKind) -> None:
        """Expired leases count as transient failures: requeued, or the item fails when attempts run out."""
        while (candidate := await tasks.first_expired(conn, kind)) is not None:
            # AOI lock before the task lock, as report and every transition do: no lock-order deadlock.
            await aois.lock_aoi_of_task(conn, candidate)
            task = await tasks.take_expired(conn, candidate)
            if task is None:
                return  # renewed or taken meanwhile by another replica: it deals with it
            await self._expire(conn, task)

    async def _expire(self, conn: Any, task: tasks.LeasedTask) -> str:
        """Takes back an expired lease (the caller holds the AOI and task locks); says what became of it."""
        message = f"lease expired {task.attempts} time(s): the worker stopped answering"
        logger.warning("task %s: %s", task.id, message, extra={"task_id": task.id})
        if self._metrics is not None:  # counted even should the transaction roll back: an estimate
            self._metrics.lease_expiries.labels(task.kind.value).inc()
        if task.attempts >= self.max_attempts:
            await tasks.delete(conn, task.id)
            await self._apply(conn, task, Status.FAILED, message)
            return "attempts used up: its item is FAILED"
        await tasks.requeue(conn, task.id, message)
        return "the task is back in the queue"

    async def lease_holder(self, task_id: int, token: str) -> str | None:
        async with self._pool.connection() as conn:
            return await tasks.lease_holder(conn, task_id, token)

    def _counted(self, claim: tasks.Claim, kind: models.TaskKind) -> tasks.Claim:
        if self._metrics is not None:  # one per claim statement, by what it claimed
            self._metrics.claims.labels(kind.value, "claimed" if claim.tasks else "empty").inc()
        return claim

    @staticmethod
    def _leases(claim: tasks.Claim) -> list[Lease]:
        """The leases of a claim, from the items its statement read. A task whose item was deleted since
        (DeleteAoi: the task row went with it) is left out."""
        leases = []
        for task in claim.tasks:
            if task.tile_id is None:
                scene = claim.scenes.get(task.scene_id)
                if scene is not None:
                    leases.append(Lease(task, scene))
                continue
            tile = claim.tiles.get(task.tile_id)
            if tile is None:
                continue
            previous = claim.tiles.get(tile.previous_id) if tile.previous_id else None
            reference = claim.tiles.get(tile.reference_id) if tile.reference_id else None
            leases.append(Lease(task, tile.scene, tile, previous, reference))
        if len(leases) < len(claim.tasks):
            logger.info("%d leased task(s) vanished with their AOI", len(claim.tasks) - len(leases))
        return leases

    async def heartbeat(self, task_id: int, token: str, progress: str) -> dt.datetime:
        async with self._pool.connection() as conn, conn.transaction():
            task = await tasks.lock_leased(conn, task_id, token)
            if task is None:
                raise FailedPrecondition(f"task {task_id}: lease no longer held")
            return await tasks.extend(conn, task_id, self.lease_seconds, progress[:1000])

    async def report(
        self, task_id: int, token: str, status: Status, message: str, temporary: bool, holder: str = ""
    ) -> bool:
        """With `holder`, a DONE report under a lease of another worker is refused (InvalidArgument) before
        anything is recorded; other results are not checked here (the caller uses `lease_holder`)."""
        if not temporary and status not in (Status.DONE, Status.RETRY, Status.FAILED):
            raise InvalidArgument("status", "a result is DONE, RETRY or FAILED")
        if status == Status.DONE and not temporary:
            applied = await self._report_done(task_id, token, holder)
        else:
            applied = await self._report(task_id, token, status, message, temporary)
        if self._metrics is not None:
            self._metrics.results.labels("TEMPORARY" if temporary else status.value).inc()
        return applied

    async def _report(self, task_id: int, token: str, status: Status, message: str, temporary: bool) -> bool:
        async with self._pool.connection() as conn, conn.transaction():
            # The AOI lock before the task row lock: the order every transition and DeleteAoi follow.
            await aois.lock_aoi_of_task(conn, task_id)
            task = await tasks.lock_leased(conn, task_id, token)
            if task is None:
                raise FailedPrecondition(f"task {task_id}: lease no longer held, result ignored")
            if await tasks.lease_expired(conn, task_id):
                outcome = await self._expire(conn, task)  # committed; the refusal is raised after
            else:
                if temporary:
                    if task.attempts < self.max_attempts:
                        await tasks.requeue(conn, task_id, message)
                        return True
                    message = f"too many attempts ({task.attempts}): {message}"
                    status = Status.FAILED
                await tasks.delete(conn, task_id)
                return await self._apply(conn, task, status, message)
        raise _expired(task_id, outcome)

    async def _refused(self, task_id: int, token: str) -> FailedPrecondition:
        """Why a DONE report was refused: an expired lease is taken back here (another worker may hold
        it already, or the reclaim of a LeaseTask did it); any other case is a lease no longer held."""
        async with self._pool.connection() as conn, conn.transaction():
            await aois.lock_aoi_of_task(conn, task_id)
            task = await tasks.lock_leased(conn, task_id, token)
            if task is None or not await tasks.lease_expired(conn, task_id):
                return FailedPrecondition(f"task {task_id}: lease no longer held, result ignored")
            outcome = await self._expire(conn, task)
        return _expired(task_id, outcome)

    async def _report_done(self, task_id: int, token: str, holder: str) -> bool:
        """The common report: one statement shared with the DONE reports arriving meanwhile (group
        commit, workflow/group_commit.py); the AOI lock is held for the SQL and one commit only."""
        applied = await self.batcher.report_done(task_id, token, holder)
        if applied is None:
            raise await self._refused(task_id, token)
        return applied

    async def _apply(self, conn: Any, task: tasks.LeasedTask, status: Status, message: str) -> bool:
        try:
            async with conn.transaction():  # a savepoint: a refused failure leaves nothing behind
                if task.tile_id is None:
                    return await transitions.update_scene(conn, task.scene_id, status, message)
                return await transitions.update_tile(conn, task.tile_id, status, message)
        except FailedPrecondition as exc:
            if status != Status.FAILED:
                raise
            # Refusing the result would leave the task leased, to expire and be handed out again and
            # again: the outcome is recorded, as RETRY, with the reason it is not FAILED.
            logger.warning("task %s: the item cannot fail (%s): RETRY", task.id, exc)
            return await transitions.give_up(
                conn, task.scene_id, task.tile_id, f"{message} (left RETRY: {exc})"
            )


def _expired(task_id: int, outcome: str) -> FailedPrecondition:
    # A result reported after the lease's expiry is refused even when nobody took the task back yet:
    # the catalogue may hand it out at any moment from then on, and two workers must never both finish
    # one task (their outputs would overwrite each other in storage).
    return FailedPrecondition(f"task {task_id}: lease expired, result ignored ({outcome})")
