import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNSPECIFIED: _ClassVar[Status]
    STATUS_NEW: _ClassVar[Status]
    STATUS_PENDING: _ClassVar[Status]
    STATUS_DONE: _ClassVar[Status]
    STATUS_RETRY: _ClassVar[Status]
    STATUS_FAILED: _ClassVar[Status]
STATUS_UNSPECIFIED: Status
STATUS_NEW: Status
STATUS_PENDING: Status
STATUS_DONE: Status
STATUS_RETRY: Status
STATUS_FAILED: Status

class StringMap(_message.Message):
    __slots__ = ("entries",)
    class EntriesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.ScalarMap[str, str]
    def __init__(self, entries: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TileMapping(_message.Message):
    __slots__ = ("swath_id", "tile_nr")
    SWATH_ID_FIELD_NUMBER: _ClassVar[int]
    TILE_NR_FIELD_NUMBER: _ClassVar[int]
    swath_id: str
    tile_nr: int
    def __init__(self, swath_id: _Optional[str] = ..., tile_nr: _Optional[int] = ...) -> None: ...

class SceneAttrs(_message.Message):
    __slots__ = ("date", "tiles", "graph_name", "graph_config", "record_id", "instances_id", "metadata", "is_retriable", "storage_uri")
    class TilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TileMapping
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TileMapping, _Mapping]] = ...) -> None: ...
    class InstancesIdEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATE_FIELD_NUMBER: _ClassVar[int]
    TILES_FIELD_NUMBER: _ClassVar[int]
    GRAPH_NAME_FIELD_NUMBER: _ClassVar[int]
    GRAPH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IS_RETRIABLE_FIELD_NUMBER: _ClassVar[int]
    STORAGE_URI_FIELD_NUMBER: _ClassVar[int]
    date: _timestamp_pb2.Timestamp
    tiles: _containers.MessageMap[str, TileMapping]
    graph_name: str
    graph_config: StringMap
    record_id: str
    instances_id: _containers.ScalarMap[str, str]
    metadata: _struct_pb2.Struct
    is_retriable: bool
    storage_uri: str
    def __init__(self, date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tiles: _Optional[_Mapping[str, TileMapping]] = ..., graph_name: _Optional[str] = ..., graph_config: _Optional[_Union[StringMap, _Mapping]] = ..., record_id: _Optional[str] = ..., instances_id: _Optional[_Mapping[str, str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., is_retriable: _Optional[bool] = ..., storage_uri: _Optional[str] = ...) -> None: ...

class TileAttrs(_message.Message):
    __slots__ = ("swath_id", "tile_nr", "graph_name", "is_retriable")
    SWATH_ID_FIELD_NUMBER: _ClassVar[int]
    TILE_NR_FIELD_NUMBER: _ClassVar[int]
    GRAPH_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_RETRIABLE_FIELD_NUMBER: _ClassVar[int]
    swath_id: str
    tile_nr: int
    graph_name: str
    is_retriable: bool
    def __init__(self, swath_id: _Optional[str] = ..., tile_nr: _Optional[int] = ..., graph_name: _Optional[str] = ..., is_retriable: _Optional[bool] = ...) -> None: ...

class TileRef(_message.Message):
    __slots__ = ("source_id", "scene_id", "date")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    scene_id: str
    date: _timestamp_pb2.Timestamp
    def __init__(self, source_id: _Optional[str] = ..., scene_id: _Optional[str] = ..., date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CatalogTile(_message.Message):
    __slots__ = ("source_id", "scene_id", "date", "id", "data", "anx_time", "wkt", "previous", "reference")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ANX_TIME_FIELD_NUMBER: _ClassVar[int]
    WKT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    scene_id: str
    date: _timestamp_pb2.Timestamp
    id: int
    data: TileAttrs
    anx_time: int
    wkt: str
    previous: TileRef
    reference: TileRef
    def __init__(self, source_id: _Optional[str] = ..., scene_id: _Optional[str] = ..., date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., id: _Optional[int] = ..., data: _Optional[_Union[TileAttrs, _Mapping]] = ..., anx_time: _Optional[int] = ..., wkt: _Optional[str] = ..., previous: _Optional[_Union[TileRef, _Mapping]] = ..., reference: _Optional[_Union[TileRef, _Mapping]] = ...) -> None: ...

class CatalogScene(_message.Message):
    __slots__ = ("id", "source_id", "aoi", "data", "tags", "wkt", "tiles")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    AOI_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    WKT_FIELD_NUMBER: _ClassVar[int]
    TILES_FIELD_NUMBER: _ClassVar[int]
    id: int
    source_id: str
    aoi: str
    data: SceneAttrs
    tags: _containers.ScalarMap[str, str]
    wkt: str
    tiles: _containers.RepeatedCompositeFieldContainer[CatalogTile]
    def __init__(self, id: _Optional[int] = ..., source_id: _Optional[str] = ..., aoi: _Optional[str] = ..., data: _Optional[_Union[SceneAttrs, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., wkt: _Optional[str] = ..., tiles: _Optional[_Iterable[_Union[CatalogTile, _Mapping]]] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("variable", "instance", "instance_id")
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    variable: str
    instance: str
    instance_id: str
    def __init__(self, variable: _Optional[str] = ..., instance: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...

class SceneType(_message.Message):
    __slots__ = ("constellation", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONSTELLATION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    constellation: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, constellation: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Area(_message.Message):
    __slots__ = ("name", "geometry_wkt", "start_time", "end_time", "scene_type", "scene_graph_name", "tile_graph_name", "graph_config", "layers", "record_tags", "annotations_urls", "is_retriable", "retry_count", "page", "limit", "storage_uri")
    class LayersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Layer
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Layer, _Mapping]] = ...) -> None: ...
    class RecordTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_WKT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SCENE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCENE_GRAPH_NAME_FIELD_NUMBER: _ClassVar[int]
    TILE_GRAPH_NAME_FIELD_NUMBER: _ClassVar[int]
    GRAPH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    RECORD_TAGS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_URLS_FIELD_NUMBER: _ClassVar[int]
    IS_RETRIABLE_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STORAGE_URI_FIELD_NUMBER: _ClassVar[int]
    name: str
    geometry_wkt: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    scene_type: SceneType
    scene_graph_name: str
    tile_graph_name: str
    graph_config: StringMap
    layers: _containers.MessageMap[str, Layer]
    record_tags: _containers.ScalarMap[str, str]
    annotations_urls: _containers.RepeatedScalarFieldContainer[str]
    is_retriable: bool
    retry_count: int
    page: int
    limit: int
    storage_uri: str
    def __init__(self, name: _Optional[str] = ..., geometry_wkt: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scene_type: _Optional[_Union[SceneType, _Mapping]] = ..., scene_graph_name: _Optional[str] = ..., tile_graph_name: _Optional[str] = ..., graph_config: _Optional[_Union[StringMap, _Mapping]] = ..., layers: _Optional[_Mapping[str, Layer]] = ..., record_tags: _Optional[_Mapping[str, str]] = ..., annotations_urls: _Optional[_Iterable[str]] = ..., is_retriable: _Optional[bool] = ..., retry_count: _Optional[int] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ..., storage_uri: _Optional[str] = ...) -> None: ...

class Scene(_message.Message):
    __slots__ = ("id", "source_id", "aoi", "data", "status", "message", "retry_countdown")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    AOI_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNTDOWN_FIELD_NUMBER: _ClassVar[int]
    id: int
    source_id: str
    aoi: str
    data: SceneAttrs
    status: Status
    message: str
    retry_countdown: int
    def __init__(self, id: _Optional[int] = ..., source_id: _Optional[str] = ..., aoi: _Optional[str] = ..., data: _Optional[_Union[SceneAttrs, _Mapping]] = ..., status: _Optional[_Union[Status, str]] = ..., message: _Optional[str] = ..., retry_countdown: _Optional[int] = ...) -> None: ...

class Tile(_message.Message):
    __slots__ = ("id", "source_id", "scene", "data", "status", "message", "previous_id", "reference_id", "retry_countdown")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNTDOWN_FIELD_NUMBER: _ClassVar[int]
    id: int
    source_id: str
    scene: Scene
    data: TileAttrs
    status: Status
    message: str
    previous_id: int
    reference_id: int
    retry_countdown: int
    def __init__(self, id: _Optional[int] = ..., source_id: _Optional[str] = ..., scene: _Optional[_Union[Scene, _Mapping]] = ..., data: _Optional[_Union[TileAttrs, _Mapping]] = ..., status: _Optional[_Union[Status, str]] = ..., message: _Optional[str] = ..., previous_id: _Optional[int] = ..., reference_id: _Optional[int] = ..., retry_countdown: _Optional[int] = ...) -> None: ...

class Aoi(_message.Message):
    __slots__ = ("id", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: Status
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[Status, str]] = ...) -> None: ...

class WorkerStatus(_message.Message):
    __slots__ = ("worker_id", "current", "tasks_done", "tasks_failed", "draining")
    class Current(_message.Message):
        __slots__ = ("task_id", "aoi", "scene_id", "tile_id", "source_id", "started", "progress")
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        AOI_FIELD_NUMBER: _ClassVar[int]
        SCENE_ID_FIELD_NUMBER: _ClassVar[int]
        TILE_ID_FIELD_NUMBER: _ClassVar[int]
        SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
        STARTED_FIELD_NUMBER: _ClassVar[int]
        PROGRESS_FIELD_NUMBER: _ClassVar[int]
        task_id: int
        aoi: str
        scene_id: int
        tile_id: int
        source_id: str
        started: _timestamp_pb2.Timestamp
        progress: str
        def __init__(self, task_id: _Optional[int] = ..., aoi: _Optional[str] = ..., scene_id: _Optional[int] = ..., tile_id: _Optional[int] = ..., source_id: _Optional[str] = ..., started: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[str] = ...) -> None: ...
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TASKS_DONE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    current: _containers.RepeatedCompositeFieldContainer[WorkerStatus.Current]
    tasks_done: int
    tasks_failed: int
    draining: bool
    def __init__(self, worker_id: _Optional[str] = ..., current: _Optional[_Iterable[_Union[WorkerStatus.Current, _Mapping]]] = ..., tasks_done: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., draining: _Optional[bool] = ...) -> None: ...
