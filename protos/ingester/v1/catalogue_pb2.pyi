import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.ingester.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchScenesRequest(_message.Message):
    __slots__ = ("area",)
    AREA_FIELD_NUMBER: _ClassVar[int]
    area: _types_pb2.Area
    def __init__(self, area: _Optional[_Union[_types_pb2.Area, _Mapping]] = ...) -> None: ...

class SearchScenesResponse(_message.Message):
    __slots__ = ("scenes", "next")
    SCENES_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[_types_pb2.CatalogScene]
    next: bool
    def __init__(self, scenes: _Optional[_Iterable[_Union[_types_pb2.CatalogScene, _Mapping]]] = ..., next: _Optional[bool] = ...) -> None: ...

class ListTilesRequest(_message.Message):
    __slots__ = ("area", "scenes")
    AREA_FIELD_NUMBER: _ClassVar[int]
    SCENES_FIELD_NUMBER: _ClassVar[int]
    area: _types_pb2.Area
    scenes: _containers.RepeatedCompositeFieldContainer[_types_pb2.CatalogScene]
    def __init__(self, area: _Optional[_Union[_types_pb2.Area, _Mapping]] = ..., scenes: _Optional[_Iterable[_Union[_types_pb2.CatalogScene, _Mapping]]] = ...) -> None: ...

class ListTilesResponse(_message.Message):
    __slots__ = ("scenes",)
    SCENES_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[_types_pb2.CatalogScene]
    def __init__(self, scenes: _Optional[_Iterable[_Union[_types_pb2.CatalogScene, _Mapping]]] = ...) -> None: ...

class IngestAreaRequest(_message.Message):
    __slots__ = ("area", "scenes", "tiles")
    AREA_FIELD_NUMBER: _ClassVar[int]
    SCENES_FIELD_NUMBER: _ClassVar[int]
    TILES_FIELD_NUMBER: _ClassVar[int]
    area: _types_pb2.Area
    scenes: SceneList
    tiles: SceneList
    def __init__(self, area: _Optional[_Union[_types_pb2.Area, _Mapping]] = ..., scenes: _Optional[_Union[SceneList, _Mapping]] = ..., tiles: _Optional[_Union[SceneList, _Mapping]] = ...) -> None: ...

class SceneList(_message.Message):
    __slots__ = ("scenes",)
    SCENES_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[_types_pb2.CatalogScene]
    def __init__(self, scenes: _Optional[_Iterable[_Union[_types_pb2.CatalogScene, _Mapping]]] = ...) -> None: ...

class IngestAreaResponse(_message.Message):
    __slots__ = ("scene_count", "tile_count", "elapsed")
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_FIELD_NUMBER: _ClassVar[int]
    scene_count: int
    tile_count: int
    elapsed: _duration_pb2.Duration
    def __init__(self, scene_count: _Optional[int] = ..., tile_count: _Optional[int] = ..., elapsed: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListAoisRequest(_message.Message):
    __slots__ = ("pattern",)
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    def __init__(self, pattern: _Optional[str] = ...) -> None: ...

class ListAoisResponse(_message.Message):
    __slots__ = ("aois",)
    AOIS_FIELD_NUMBER: _ClassVar[int]
    aois: _containers.RepeatedCompositeFieldContainer[_types_pb2.Aoi]
    def __init__(self, aois: _Optional[_Iterable[_Union[_types_pb2.Aoi, _Mapping]]] = ...) -> None: ...

class WaitAoiStatusRequest(_message.Message):
    __slots__ = ("aoi", "known", "wait")
    AOI_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    known: _types_pb2.Status
    wait: _duration_pb2.Duration
    def __init__(self, aoi: _Optional[str] = ..., known: _Optional[_Union[_types_pb2.Status, str]] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WaitAoiStatusResponse(_message.Message):
    __slots__ = ("status", "changed")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    status: _types_pb2.Status
    changed: bool
    def __init__(self, status: _Optional[_Union[_types_pb2.Status, str]] = ..., changed: _Optional[bool] = ...) -> None: ...

class GetAoiReportRequest(_message.Message):
    __slots__ = ("aoi",)
    AOI_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    def __init__(self, aoi: _Optional[str] = ...) -> None: ...

class StatusCounts(_message.Message):
    __slots__ = ("new", "pending", "done", "retry", "failed", "total")
    NEW_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    new: int
    pending: int
    done: int
    retry: int
    failed: int
    total: int
    def __init__(self, new: _Optional[int] = ..., pending: _Optional[int] = ..., done: _Optional[int] = ..., retry: _Optional[int] = ..., failed: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class GetAoiReportResponse(_message.Message):
    __slots__ = ("scenes", "tiles", "root_tiles", "to")
    SCENES_FIELD_NUMBER: _ClassVar[int]
    TILES_FIELD_NUMBER: _ClassVar[int]
    ROOT_TILES_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    scenes: StatusCounts
    tiles: StatusCounts
    root_tiles: int
    to: _timestamp_pb2.Timestamp
    def __init__(self, scenes: _Optional[_Union[StatusCounts, _Mapping]] = ..., tiles: _Optional[_Union[StatusCounts, _Mapping]] = ..., root_tiles: _Optional[int] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class ListScenesRequest(_message.Message):
    __slots__ = ("aoi", "status", "page", "limit")
    AOI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    status: _types_pb2.Status
    page: int
    limit: int
    def __init__(self, aoi: _Optional[str] = ..., status: _Optional[_Union[_types_pb2.Status, str]] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListScenesResponse(_message.Message):
    __slots__ = ("scenes",)
    SCENES_FIELD_NUMBER: _ClassVar[int]
    scenes: _containers.RepeatedCompositeFieldContainer[_types_pb2.Scene]
    def __init__(self, scenes: _Optional[_Iterable[_Union[_types_pb2.Scene, _Mapping]]] = ...) -> None: ...

class GetSceneRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListSceneTilesRequest(_message.Message):
    __slots__ = ("scene_id",)
    SCENE_ID_FIELD_NUMBER: _ClassVar[int]
    scene_id: int
    def __init__(self, scene_id: _Optional[int] = ...) -> None: ...

class ListSceneTilesResponse(_message.Message):
    __slots__ = ("tiles",)
    TILES_FIELD_NUMBER: _ClassVar[int]
    tiles: _containers.RepeatedCompositeFieldContainer[_types_pb2.Tile]
    def __init__(self, tiles: _Optional[_Iterable[_Union[_types_pb2.Tile, _Mapping]]] = ...) -> None: ...

class GetTileRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...
