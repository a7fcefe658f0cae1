from protos.ingester.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpdateStatusRequest(_message.Message):
    __slots__ = ("id", "status", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: int
    status: _types_pb2.Status
    force: bool
    def __init__(self, id: _Optional[int] = ..., status: _Optional[_Union[_types_pb2.Status, str]] = ..., force: _Optional[bool] = ...) -> None: ...

class UpdateStatusResponse(_message.Message):
    __slots__ = ("done",)
    DONE_FIELD_NUMBER: _ClassVar[int]
    done: bool
    def __init__(self, done: _Optional[bool] = ...) -> None: ...

class RetryAoiRequest(_message.Message):
    __slots__ = ("aoi", "force")
    AOI_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    force: bool
    def __init__(self, aoi: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RetryAoiResponse(_message.Message):
    __slots__ = ("scenes", "tiles", "errors")
    SCENES_FIELD_NUMBER: _ClassVar[int]
    TILES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    scenes: int
    tiles: int
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scenes: _Optional[int] = ..., tiles: _Optional[int] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateAoiRequest(_message.Message):
    __slots__ = ("aoi",)
    AOI_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    def __init__(self, aoi: _Optional[str] = ...) -> None: ...

class CreateAoiResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteAoiRequest(_message.Message):
    __slots__ = ("aoi",)
    AOI_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    def __init__(self, aoi: _Optional[str] = ...) -> None: ...

class DeleteAoiResponse(_message.Message):
    __slots__ = ("existed", "cancelled_tasks")
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_TASKS_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    cancelled_tasks: int
    def __init__(self, existed: _Optional[bool] = ..., cancelled_tasks: _Optional[int] = ...) -> None: ...

class IngestSceneRequest(_message.Message):
    __slots__ = ("aoi", "scene", "retry_count")
    AOI_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    scene: _types_pb2.CatalogScene
    retry_count: int
    def __init__(self, aoi: _Optional[str] = ..., scene: _Optional[_Union[_types_pb2.CatalogScene, _Mapping]] = ..., retry_count: _Optional[int] = ...) -> None: ...

class IngestSceneResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class UpdateSceneDataRequest(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: int
    data: _types_pb2.SceneAttrs
    def __init__(self, id: _Optional[int] = ..., data: _Optional[_Union[_types_pb2.SceneAttrs, _Mapping]] = ...) -> None: ...

class UpdateTileDataRequest(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: int
    data: _types_pb2.TileAttrs
    def __init__(self, id: _Optional[int] = ..., data: _Optional[_Union[_types_pb2.TileAttrs, _Mapping]] = ...) -> None: ...

class UpdateDataResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAoiTilesRequest(_message.Message):
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

class ListAoiTilesResponse(_message.Message):
    __slots__ = ("tiles",)
    TILES_FIELD_NUMBER: _ClassVar[int]
    tiles: _containers.RepeatedCompositeFieldContainer[_types_pb2.Tile]
    def __init__(self, tiles: _Optional[_Iterable[_Union[_types_pb2.Tile, _Mapping]]] = ...) -> None: ...

class ListGraphTilesRequest(_message.Message):
    __slots__ = ("aoi",)
    AOI_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    def __init__(self, aoi: _Optional[str] = ...) -> None: ...

class GetAoiDotRequest(_message.Message):
    __slots__ = ("aoi",)
    AOI_FIELD_NUMBER: _ClassVar[int]
    aoi: str
    def __init__(self, aoi: _Optional[str] = ...) -> None: ...

class GetAoiDotResponse(_message.Message):
    __slots__ = ("dot",)
    DOT_FIELD_NUMBER: _ClassVar[int]
    dot: str
    def __init__(self, dot: _Optional[str] = ...) -> None: ...
