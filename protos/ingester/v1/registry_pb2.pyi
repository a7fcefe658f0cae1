import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Instance(_message.Message):
    __slots__ = ("id", "variable_id", "name", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    variable_id: str
    name: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., variable_id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Variable(_message.Message):
    __slots__ = ("id", "name", "unit", "description", "dtype", "instances")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    unit: str
    description: str
    dtype: str
    instances: _containers.RepeatedCompositeFieldContainer[Instance]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., unit: _Optional[str] = ..., description: _Optional[str] = ..., dtype: _Optional[str] = ..., instances: _Optional[_Iterable[_Union[Instance, _Mapping]]] = ...) -> None: ...

class CreateVariableRequest(_message.Message):
    __slots__ = ("name", "unit", "description", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    unit: str
    description: str
    dtype: str
    def __init__(self, name: _Optional[str] = ..., unit: _Optional[str] = ..., description: _Optional[str] = ..., dtype: _Optional[str] = ...) -> None: ...

class ListVariablesRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListVariablesResponse(_message.Message):
    __slots__ = ("variables",)
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    variables: _containers.RepeatedCompositeFieldContainer[Variable]
    def __init__(self, variables: _Optional[_Iterable[_Union[Variable, _Mapping]]] = ...) -> None: ...

class CreateInstanceRequest(_message.Message):
    __slots__ = ("variable", "name", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    variable: str
    name: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, variable: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("id", "name", "time", "tags", "aoi_wkt")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    AOI_WKT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    time: _timestamp_pb2.Timestamp
    tags: _containers.ScalarMap[str, str]
    aoi_wkt: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., aoi_wkt: _Optional[str] = ...) -> None: ...

class ListRecordsRequest(_message.Message):
    __slots__ = ("name", "tags", "limit")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    tags: _containers.ScalarMap[str, str]
    limit: int
    def __init__(self, name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRecordsResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class DataFormat(_message.Message):
    __slots__ = ("dtype", "no_data", "min_value", "max_value")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    NO_DATA_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    no_data: float
    min_value: float
    max_value: float
    def __init__(self, dtype: _Optional[str] = ..., no_data: _Optional[float] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("id", "record_id", "instance_id", "uri", "subdir", "bands", "dformat", "real_min_value", "real_max_value", "exponent", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    SUBDIR_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    DFORMAT_FIELD_NUMBER: _ClassVar[int]
    REAL_MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    REAL_MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPONENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    record_id: str
    instance_id: str
    uri: str
    subdir: str
    bands: _containers.RepeatedScalarFieldContainer[int]
    dformat: DataFormat
    real_min_value: float
    real_max_value: float
    exponent: float
    created: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., record_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., uri: _Optional[str] = ..., subdir: _Optional[str] = ..., bands: _Optional[_Iterable[int]] = ..., dformat: _Optional[_Union[DataFormat, _Mapping]] = ..., real_min_value: _Optional[float] = ..., real_max_value: _Optional[float] = ..., exponent: _Optional[float] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IndexDatasetsRequest(_message.Message):
    __slots__ = ("datasets",)
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ...) -> None: ...

class IndexDatasetsResponse(_message.Message):
    __slots__ = ("created", "existing")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    created: int
    existing: int
    def __init__(self, created: _Optional[int] = ..., existing: _Optional[int] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("record_id", "instance_id")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    instance_id: str
    def __init__(self, record_id: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets",)
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ...) -> None: ...

class StacItem(_message.Message):
    __slots__ = ("collection", "id", "record_id", "item_json", "catalog_key")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_JSON_FIELD_NUMBER: _ClassVar[int]
    CATALOG_KEY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    id: str
    record_id: str
    item_json: str
    catalog_key: str
    def __init__(self, collection: _Optional[str] = ..., id: _Optional[str] = ..., record_id: _Optional[str] = ..., item_json: _Optional[str] = ..., catalog_key: _Optional[str] = ...) -> None: ...

class IndexItemsRequest(_message.Message):
    __slots__ = ("items", "catalog_root")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ROOT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[StacItem]
    catalog_root: str
    def __init__(self, items: _Optional[_Iterable[_Union[StacItem, _Mapping]]] = ..., catalog_root: _Optional[str] = ...) -> None: ...

class IndexItemsResponse(_message.Message):
    __slots__ = ("revision", "items_json")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_JSON_FIELD_NUMBER: _ClassVar[int]
    revision: int
    items_json: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, revision: _Optional[int] = ..., items_json: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchItemsRequest(_message.Message):
    __slots__ = ("collections", "ids", "bbox", "start", "end", "limit", "token", "intersects")
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    INTERSECTS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedScalarFieldContainer[str]
    ids: _containers.RepeatedScalarFieldContainer[str]
    bbox: _containers.RepeatedScalarFieldContainer[float]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    limit: int
    token: str
    intersects: str
    def __init__(self, collections: _Optional[_Iterable[str]] = ..., ids: _Optional[_Iterable[str]] = ..., bbox: _Optional[_Iterable[float]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., token: _Optional[str] = ..., intersects: _Optional[str] = ...) -> None: ...

class SearchItemsResponse(_message.Message):
    __slots__ = ("items_json", "next_token", "matched")
    ITEMS_JSON_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    items_json: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    matched: int
    def __init__(self, items_json: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ..., matched: _Optional[int] = ...) -> None: ...

class ListItemCollectionsRequest(_message.Message):
    __slots__ = ("ids", "catalog_root", "with_item_ids")
    IDS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ROOT_FIELD_NUMBER: _ClassVar[int]
    WITH_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    catalog_root: str
    with_item_ids: bool
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., catalog_root: _Optional[str] = ..., with_item_ids: _Optional[bool] = ...) -> None: ...

class ItemCollection(_message.Message):
    __slots__ = ("id", "bbox", "start", "end", "item_count", "items")
    class ItemRef(_message.Message):
        __slots__ = ("id", "href")
        ID_FIELD_NUMBER: _ClassVar[int]
        HREF_FIELD_NUMBER: _ClassVar[int]
        id: str
        href: str
        def __init__(self, id: _Optional[str] = ..., href: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    bbox: _containers.RepeatedScalarFieldContainer[float]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    item_count: int
    items: _containers.RepeatedCompositeFieldContainer[ItemCollection.ItemRef]
    def __init__(self, id: _Optional[str] = ..., bbox: _Optional[_Iterable[float]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., item_count: _Optional[int] = ..., items: _Optional[_Iterable[_Union[ItemCollection.ItemRef, _Mapping]]] = ...) -> None: ...

class ListItemCollectionsResponse(_message.Message):
    __slots__ = ("collections", "revision")
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[ItemCollection]
    revision: int
    def __init__(self, collections: _Optional[_Iterable[_Union[ItemCollection, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...
