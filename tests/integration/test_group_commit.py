"""Group commit of DONE reports (services/catalogue/tasks/group_commit.py, schema/0011_*.sql) on the real
catalogue and database: reports waiting together share one transaction, each gets its own answer, and
concurrent reports through gRPC all apply exactly once."""

from __future__ import annotations

import asyncio
import uuid

import grpc

from protos.ingester.v1 import catalogue_pb2, tasks_pb2, types_pb2
from services.catalogue.tasks.group_commit import ReportBatcher
from libs.runtime.errors import InvalidArgument
from tests.integration.test_catalogue_workflow import _area, _lease, _register_layers, _report, _tiled_scenes


async def _ingest(stubs, name: str) -> None:  # type: ignore[no-untyped-def]
    area = _area(name)
    await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=_tiled_scenes(area))),
        timeout=10,
    )


async def _rows(catalogue, query: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    async with catalogue.pool.connection() as conn:
        cur = await conn.execute(query)
        return await cur.fetchall()


async def test_waiting_reports_share_one_transaction(stubs, catalogue) -> None:  # type: ignore[no-untyped-def]
    """Reports queued before the flusher runs go in one batch: one transaction (every scene they finish
    carries the same xmin) over two AOIs, each report answered on its own; a stale lease in the batch
    gets None without disturbing the others, a malformed token never reaches the database."""
    await _register_layers(stubs)
    await _ingest(stubs, "north")
    await _ingest(stubs, "south")
    leased = [await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD) for _ in range(4)]
    assert all(task is not None for task in leased)
    batcher = ReportBatcher(catalogue.pool)
    calls = [batcher.report_done(task.task_id, task.lease_token) for task in leased]  # type: ignore[union-attr]
    calls.append(batcher.report_done(leased[0].task_id, str(uuid.uuid4())))  # type: ignore[union-attr]
    calls.append(batcher.report_done(leased[1].task_id, "not-a-token"))  # type: ignore[union-attr]
    # gather starts the calls in order before the flusher task they create gets its turn.
    answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=30)
    # The stale token is answered after the real one was applied in the same transaction: None, as for
    # any lease no longer held; the malformed token is refused before it is queued.
    assert answers == [True, True, True, True, None, None]
    assert (batcher.batches, batcher.reports) == (1, 5)
    rows = await _rows(catalogue, "SELECT status, xmin::text FROM scene")
    assert len(rows) == 4 and {status for status, _ in rows} == {"DONE"}
    assert len({xmin for _, xmin in rows}) == 1
    # Each FinishScene released its tile: one process task per scene, none twice.
    queued = await _rows(catalogue, "SELECT kind, count(*) FROM task GROUP BY kind")
    assert queued == [("process", 4)]


async def test_concurrent_reports_apply_exactly_once(stubs, catalogue) -> None:  # type: ignore[no-untyped-def]
    """Through gRPC, as workers report: DONE reports sent together all apply (one way or another they
    share commits); a second DONE report of the same lease is refused, and both AOIs end DONE."""
    await _register_layers(stubs)
    await _ingest(stubs, "east")
    await _ingest(stubs, "west")
    for kind in (tasks_pb2.TASK_KIND_DOWNLOAD, tasks_pb2.TASK_KIND_PROCESS):
        leased = [await _lease(stubs, kind) for _ in range(4)]
        assert all(task is not None for task in leased)
        answers = await asyncio.gather(*(_report(stubs, task, types_pb2.STATUS_DONE) for task in leased))
        assert [answer.applied for answer in answers] == [True] * 4
        try:
            await _report(stubs, leased[0], types_pb2.STATUS_DONE)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
        else:
            raise AssertionError("a second report under the same lease was accepted")
    assert await _rows(catalogue, "SELECT count(*) FROM task") == [(0,)]
    assert await _rows(catalogue, "SELECT DISTINCT status FROM tile") == [("DONE",)]
    for name in ("east", "west"):
        answer = await stubs.catalogue.WaitAoiStatus(catalogue_pb2.WaitAoiStatusRequest(aoi=name), timeout=5)
        assert answer.status == types_pb2.STATUS_DONE


async def test_a_foreign_holder_is_refused_within_its_batch(stubs, catalogue) -> None:  # type: ignore[no-untyped-def]
    """A report that must come from the lease's holder (lease_next) but names another worker is refused
    with INVALID_ARGUMENT and records nothing; the report sharing its batch applies."""
    await _register_layers(stubs)
    await _ingest(stubs, "north")
    mine, foreign = [await _lease(stubs, tasks_pb2.TASK_KIND_DOWNLOAD) for _ in range(2)]
    batcher = ReportBatcher(catalogue.pool)
    answers = await asyncio.wait_for(
        asyncio.gather(
            batcher.report_done(mine.task_id, mine.lease_token, "test"),  # type: ignore[union-attr]
            batcher.report_done(foreign.task_id, foreign.lease_token, "somebody-else"),  # type: ignore[union-attr]
            return_exceptions=True,
        ),
        timeout=30,
    )
    assert answers[0] is True and batcher.batches == 1
    assert isinstance(answers[1], InvalidArgument) and "leased by another worker" in str(answers[1])
    rows = await _rows(catalogue, "SELECT state, worker_id FROM task WHERE kind = 'download'")
    assert rows == [("leased", "test")]  # the foreign report's task is still leased, untouched
