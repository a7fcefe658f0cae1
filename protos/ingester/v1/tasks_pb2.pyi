import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.ingester.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_KIND_UNSPECIFIED: _ClassVar[TaskKind]
    TASK_KIND_DOWNLOAD: _ClassVar[TaskKind]
    TASK_KIND_PROCESS: _ClassVar[TaskKind]
TASK_KIND_UNSPECIFIED: TaskKind
TASK_KIND_DOWNLOAD: TaskKind
TASK_KIND_PROCESS: TaskKind

class LeaseTaskRequest(_message.Message):
    __slots__ = ("kind", "worker_id", "wait")
    KIND_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    kind: TaskKind
    worker_id: str
    wait: _duration_pb2.Duration
    def __init__(self, kind: _Optional[_Union[TaskKind, str]] = ..., worker_id: _Optional[str] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DownloadJob(_message.Message):
    __slots__ = ("scene",)
    SCENE_FIELD_NUMBER: _ClassVar[int]
    scene: _types_pb2.Scene
    def __init__(self, scene: _Optional[_Union[_types_pb2.Scene, _Mapping]] = ...) -> None: ...

class ProcessJob(_message.Message):
    __slots__ = ("tile", "previous", "reference")
    TILE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    tile: _types_pb2.Tile
    previous: _types_pb2.Tile
    reference: _types_pb2.Tile
    def __init__(self, tile: _Optional[_Union[_types_pb2.Tile, _Mapping]] = ..., previous: _Optional[_Union[_types_pb2.Tile, _Mapping]] = ..., reference: _Optional[_Union[_types_pb2.Tile, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "lease_token", "lease_expires", "kind", "attempt", "download", "process", "traceparent", "request_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    lease_token: str
    lease_expires: _timestamp_pb2.Timestamp
    kind: TaskKind
    attempt: int
    download: DownloadJob
    process: ProcessJob
    traceparent: str
    request_id: str
    def __init__(self, task_id: _Optional[int] = ..., lease_token: _Optional[str] = ..., lease_expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[TaskKind, str]] = ..., attempt: _Optional[int] = ..., download: _Optional[_Union[DownloadJob, _Mapping]] = ..., process: _Optional[_Union[ProcessJob, _Mapping]] = ..., traceparent: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class LeaseTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("task_id", "lease_token", "progress")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    lease_token: str
    progress: str
    def __init__(self, task_id: _Optional[int] = ..., lease_token: _Optional[str] = ..., progress: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("lease_expires",)
    LEASE_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    lease_expires: _timestamp_pb2.Timestamp
    def __init__(self, lease_expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportResultRequest(_message.Message):
    __slots__ = ("task_id", "lease_token", "status", "message", "temporary", "lease_next", "worker_id", "traceparent", "request_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_FIELD_NUMBER: _ClassVar[int]
    LEASE_NEXT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    lease_token: str
    status: _types_pb2.Status
    message: str
    temporary: bool
    lease_next: TaskKind
    worker_id: str
    traceparent: str
    request_id: str
    def __init__(self, task_id: _Optional[int] = ..., lease_token: _Optional[str] = ..., status: _Optional[_Union[_types_pb2.Status, str]] = ..., message: _Optional[str] = ..., temporary: _Optional[bool] = ..., lease_next: _Optional[_Union[TaskKind, str]] = ..., worker_id: _Optional[str] = ..., traceparent: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReportResultResponse(_message.Message):
    __slots__ = ("applied", "next_task")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    NEXT_TASK_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    next_task: Task
    def __init__(self, applied: _Optional[bool] = ..., next_task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class LeaseTasksRequest(_message.Message):
    __slots__ = ("kind", "worker_id", "wait", "max_tasks")
    KIND_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    kind: TaskKind
    worker_id: str
    wait: _duration_pb2.Duration
    max_tasks: int
    def __init__(self, kind: _Optional[_Union[TaskKind, str]] = ..., worker_id: _Optional[str] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_tasks: _Optional[int] = ...) -> None: ...

class LeaseTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class ReportResultsRequest(_message.Message):
    __slots__ = ("results", "lease_next", "lease_max", "worker_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    LEASE_NEXT_FIELD_NUMBER: _ClassVar[int]
    LEASE_MAX_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ReportResultRequest]
    lease_next: TaskKind
    lease_max: int
    worker_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[ReportResultRequest, _Mapping]]] = ..., lease_next: _Optional[_Union[TaskKind, str]] = ..., lease_max: _Optional[int] = ..., worker_id: _Optional[str] = ...) -> None: ...

class ReportOutcome(_message.Message):
    __slots__ = ("applied", "code", "message")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    code: int
    message: str
    def __init__(self, applied: _Optional[bool] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ReportResultsResponse(_message.Message):
    __slots__ = ("outcomes", "next_tasks")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TASKS_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[ReportOutcome]
    next_tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[ReportOutcome, _Mapping]]] = ..., next_tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...
