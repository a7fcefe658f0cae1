"""What a worker is doing now: its current tasks with their progress, counters, and whether it drains.

The lease loop writes it, the GetStatus servicer reads it (both on the event loop: no locking).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from protos.ingester.v1 import types_pb2


@dataclasses.dataclass
class CurrentTask:
    task_id: int
    aoi: str
    scene_id: int
    tile_id: int  # 0 for a download
    source_id: str
    started: dt.datetime
    progress: str = ""


@dataclasses.dataclass(frozen=True)
class WorkerState:
    """A snapshot (copies): safe to keep while the worker goes on."""

    worker_id: str
    current: list[CurrentTask]
    tasks_done: int
    tasks_failed: int
    draining: bool


class StatusBoard:
    def __init__(self, worker_id: str):
        self.worker_id = worker_id
        self._current: dict[int, CurrentTask] = {}
        self.tasks_done = 0
        # RETRY, FAILED and temporary outcomes: every task that ran and did not end DONE.
        self.tasks_failed = 0
        self.draining = False

    def begin(self, task: CurrentTask) -> None:
        self._current[task.task_id] = task

    def set_progress(self, task_id: int, progress: str) -> None:
        if task_id in self._current:
            self._current[task_id].progress = progress

    def progress(self, task_id: int) -> str:
        current = self._current.get(task_id)
        return current.progress if current else ""

    def end(self, task_id: int) -> None:
        self._current.pop(task_id, None)

    def snapshot(self) -> WorkerState:
        return WorkerState(
            worker_id=self.worker_id,
            current=[dataclasses.replace(task) for task in self._current.values()],
            tasks_done=self.tasks_done,
            tasks_failed=self.tasks_failed,
            draining=self.draining,
        )


def state_to_proto(state: WorkerState) -> types_pb2.WorkerStatus:
    pb = types_pb2.WorkerStatus(
        worker_id=state.worker_id,
        tasks_done=state.tasks_done,
        tasks_failed=state.tasks_failed,
        draining=state.draining,
    )
    for task in state.current:
        current = pb.current.add(
            task_id=task.task_id,
            aoi=task.aoi,
            scene_id=task.scene_id,
            tile_id=task.tile_id,
            source_id=task.source_id,
            progress=task.progress,
        )
        current.started.FromDatetime(task.started)
    return pb
