"""Group commit of DONE reports: reports that arrive while a commit is in flight share the next one.

Every DONE report is a transaction that holds its AOI's lock until its COMMIT is durable (a WAL flush).
One report per transaction made the reports of an AOI wait for each other's flush in turn: on a machine
whose fsync takes ~1 ms, 2 000 reports spent seconds in flushes alone (docs/benchmarks.md). Here one
flusher per process applies all the reports waiting at that moment with one statement
(`geocube_report_done_batch`, schema/0011_*.sql) in one transaction; reports arriving meanwhile wait for
the next batch. Nothing is delayed on purpose: a lone report commits at once, and batches grow only as
reports pile up behind a commit, which is exactly when sharing it pays.

Durability is the same as one transaction per report: synchronous_commit stays on and each caller is
answered only after the statement (hence the shared commit) has returned. Should the batch fail, nothing
of it is committed, and its reports are applied one by one in their own transactions, each answered
with its own result or error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import Any

from psycopg_pool import AsyncConnectionPool

from services.catalogue.store import tasks
from libs.runtime.errors import InvalidArgument

logger = logging.getLogger(__name__)

MAX_BATCH = 200  # reports per transaction: bounds the AOI locks' hold time and the statement's size


@dataclasses.dataclass
class _Report:
    task_id: int
    token: uuid.UUID
    traceparent: str
    request_id: str
    worker: str  # "" or the worker that must hold the lease
    answer: asyncio.Future[bool | None]


class ReportBatcher:
    def __init__(self, pool: AsyncConnectionPool[Any], max_batch: int = MAX_BATCH):
        self._pool = pool
        self._max_batch = max_batch
        self._waiting: list[_Report] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (or tried), for the benchmark and tests
        self.reports = 0

    async def report_done(self, task_id: int, token: str, holder: str = "") -> bool | None:
        """A DONE result under lease `token`: True applied, False refused by the workflow, None lease not
        held or expired. With `holder`, a lease held by another worker raises InvalidArgument (worker_id)
        and records nothing."""
        try:
            token_uuid = uuid.UUID(token)
        except ValueError:
            return None
        answer: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Report(task_id, token_uuid, *tasks.origin(), holder, answer))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="report-group-commit")
        # Shielded: a caller that gives up (deadline, cancelled RPC) must not cancel the answer the
        # flusher will set; its report commits or not with its batch, as a lone statement in flight would.
        return await asyncio.shield(answer)

    async def _flush(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                await self._commit(batch)
            except BaseException as exc:  # no caller may be left waiting, whatever happened
                for report in batch:
                    if not report.answer.done():
                        report.answer.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise

    async def _commit(self, batch: list[_Report]) -> None:
        self.batches += 1
        self.reports += len(batch)
        try:
            async with self._pool.connection() as conn:
                await conn.set_autocommit(True)  # one statement, one transaction, one COMMIT
                try:
                    cur = await conn.execute(
                        "SELECT geocube_report_done_batch(%s, %s, %s, %s, %s)",
                        (
                            [r.task_id for r in batch],
                            [r.token for r in batch],
                            [r.traceparent for r in batch],
                            [r.request_id for r in batch],
                            [r.worker for r in batch],
                        ),
                    )
                    row = await cur.fetchone()
                finally:
                    await conn.set_autocommit(False)
        except Exception as exc:
            if len(batch) == 1:
                raise
            # Rolled back as a whole: each report alone, with its own answer or error.
            logger.warning("a batch of %d reports failed (%s): applying them one by one", len(batch), exc)
            for report in batch:
                try:
                    await self._commit([report])
                except Exception as single:  # noqa: BLE001 — that report's own error, for its caller
                    if not report.answer.done():
                        report.answer.set_exception(single)
            return
        assert row is not None
        for report, result in zip(batch, row[0], strict=True):
            if report.answer.done():
                continue
            if result == 2:
                report.answer.set_exception(
                    InvalidArgument(
                        "worker_id",
                        f"task {report.task_id} is leased by another worker: lease_next claims for it only",
                    )
                )
            else:
                report.answer.set_result(None if result is None else bool(result))
