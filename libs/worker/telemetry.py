"""The log context and the span a worker runs one task in.

A task carries the origin of the call that created it (Task.traceparent, Task.request_id, stored by the
catalogue): the worker's span for the task is a child of that trace, and every line it logs while it
works carries the request id, the trace id and the task's keys (libs/runtime/logs.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from protos.ingester.v1 import tasks_pb2
from libs.runtime import logs, tracing
from libs.worker.status import CurrentTask


@contextlib.contextmanager
def task_context(task: tasks_pb2.Task, current: CurrentTask, worker_id: str) -> Iterator[None]:
    kind = "download" if task.WhichOneof("job") == "download" else "process"
    attributes: dict[str, Any] = {
        "geocube.task_id": task.task_id,
        "geocube.aoi": current.aoi,
        "geocube.scene_id": current.scene_id,
        "geocube.attempt": task.attempt,
    }
    if current.tile_id:
        attributes["geocube.tile_id"] = current.tile_id
    if task.request_id:
        attributes["geocube.request_id"] = task.request_id
    with (
        logs.bind(
            request_id=task.request_id,
            aoi=current.aoi,
            scene_id=current.scene_id,
            tile_id=current.tile_id or None,  # 0: a download, no tile
            task_id=task.task_id,
            worker_id=worker_id,
        ),
        tracing.task_span(f"task {kind}", task.traceparent, attributes),
    ):
        yield
