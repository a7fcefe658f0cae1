"""Domain types shared by the catalogue, the workers and the graph engine (no protobuf, no SQL).

Names mirror the reference system's JSON (spec §1): a *scene* is one satellite product, a *tile* the unit
the processor works on (a Sentinel-1 burst, or the whole scene for every other constellation).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

ZERO_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)

# Keys of SceneAttrs.metadata that catalogue sources fill and download providers read (spec §1.4, §3.2).
METADATA_UUID = "uuid"  # the product Id (Copernicus OData, Creodias)
METADATA_DOWNLOAD_LINK = "download_link"
# Known checksums: {"md5": hex, "blake3": hex, …} (algorithm names as the catalogue lists them, any
# case), {"multihash": hex} (STAC file:checksum) or the OData list [{"Algorithm", "Value"}, …].
METADATA_CHECKSUMS = "checksum"
METADATA_SIZE = "size"  # bytes of the product as downloaded (OData ContentLength)


class Status(str, enum.Enum):
    NEW = "NEW"
    PENDING = "PENDING"
    DONE = "DONE"
    RETRY = "RETRY"
    FAILED = "FAILED"


class TaskKind(str, enum.Enum):
    DOWNLOAD = "download"
    PROCESS = "process"


@dataclasses.dataclass
class TileMapping:
    swath_id: str = ""
    tile_nr: int = 0


@dataclasses.dataclass
class SceneAttrs:
    date: dt.datetime = ZERO_TIME
    tiles: dict[str, TileMapping] = dataclasses.field(default_factory=dict)
    graph_name: str = ""
    graph_config: dict[str, str] | None = None  # None is printed `null` by the reference
    record_id: str = ""
    instances_id: dict[str, str] = dataclasses.field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    is_retriable: bool = False
    storage_uri: str = ""


@dataclasses.dataclass
class TileAttrs:
    swath_id: str = ""
    tile_nr: int = 0
    graph_name: str = ""
    is_retriable: bool = False


@dataclasses.dataclass
class TileRef:
    source_id: str
    scene_id: str
    date: dt.datetime


@dataclasses.dataclass
class CatalogTile:
    source_id: str
    scene_id: str
    date: dt.datetime
    data: TileAttrs = dataclasses.field(default_factory=TileAttrs)
    anx_time: int = 0
    wkt: str = ""
    previous: TileRef | None = None
    reference: TileRef | None = None
    id: int = 0


@dataclasses.dataclass
class CatalogScene:
    source_id: str
    aoi: str = ""
    data: SceneAttrs = dataclasses.field(default_factory=SceneAttrs)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    wkt: str = ""
    tiles: list[CatalogTile] = dataclasses.field(default_factory=list)
    id: int = 0


@dataclasses.dataclass
class Layer:
    variable: str = ""
    instance: str = ""
    instance_id: str = ""


@dataclasses.dataclass
class Area:
    """The ingestion payload (reference AreaToIngest); geometry as WKT in EPSG:4326."""

    name: str = ""
    geometry_wkt: str = ""
    start_time: dt.datetime = ZERO_TIME
    end_time: dt.datetime = ZERO_TIME
    constellation: str = ""
    parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    scene_graph_name: str = ""
    tile_graph_name: str = ""
    graph_config: dict[str, str] | None = None
    layers: dict[str, Layer] = dataclasses.field(default_factory=dict)
    record_tags: dict[str, str] = dataclasses.field(default_factory=dict)
    annotations_urls: list[str] = dataclasses.field(default_factory=list)
    is_retriable: bool = False
    retry_count: int = 0
    page: int = 0
    limit: int = 0
    storage_uri: str = ""


@dataclasses.dataclass
class Scene:
    """A scene of the workflow."""

    id: int
    source_id: str
    aoi: str
    data: SceneAttrs
    status: Status = Status.PENDING
    message: str = ""
    retry_countdown: int = 0


@dataclasses.dataclass
class Tile:
    """A tile of the workflow; `scene` may carry only its id depending on the read."""

    id: int
    source_id: str
    scene: Scene
    data: TileAttrs
    status: Status = Status.NEW
    message: str = ""
    previous_id: int | None = None
    reference_id: int | None = None
    retry_countdown: int = 0
