"""The Geocube client: the subset of the Geocube server's gRPC API the ingester calls
(protos/geocube/v1/geocube.proto), with domain types in and out.

Errors come out as `GeocubeError`, carrying the gRPC code: `temporary` for an outage (UNAVAILABLE,
DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED — the codes the Go client marks temporary), which the processor
retries and the catalogue answers with UNAVAILABLE (503).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import pathlib
from collections.abc import Iterable, Sequence

import grpc
import shapely
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from protos.geocube.v1 import geocube_pb2, geocube_pb2_grpc
from libs.geocube.settings import GeocubeSettings
from libs.runtime.channels import CHANNEL_OPTIONS
from libs.runtime.errors import IngesterError, InvalidArgument

logger = logging.getLogger(__name__)

TEMPORARY_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
# What the Geocube's answer means for our caller: its refusal of what we sent is the caller's bad input;
# anything else (outage, auth, a server bug) is a dependency that cannot serve now.
_CALLER_CODES = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE})


class GeocubeError(IngesterError):
    """A Geocube call failed. `code` is the gRPC status we answer with (see the module docstring);
    `geocube_code` the Geocube's own."""

    def __init__(self, method: str, geocube_code: grpc.StatusCode, details: str):
        self.method = method
        self.geocube_code = geocube_code
        self.details = details
        self.temporary = geocube_code in TEMPORARY_CODES
        self.code = (
            grpc.StatusCode.INVALID_ARGUMENT if geocube_code in _CALLER_CODES else grpc.StatusCode.UNAVAILABLE
        )
        super().__init__(f"geocube {method}: {geocube_code.name}: {details}")


@dataclasses.dataclass(frozen=True)
class Variable:
    id: str
    name: str
    instances: dict[str, str]  # instance name -> instance id


@dataclasses.dataclass(frozen=True)
class Record:
    id: str
    name: str
    time: dt.datetime
    tags: dict[str, str]
    aoi_id: str = ""


@dataclasses.dataclass(frozen=True)
class NewRecord:
    name: str
    time: dt.datetime
    tags: dict[str, str]
    aoi_id: str


@dataclasses.dataclass(frozen=True)
class DataFormat:
    dtype: str  # our DType names: uint8, uint16, uint32, int16, int32, float32, float64, complex64
    no_data: float = 0.0
    min_value: float = 0.0
    max_value: float = 0.0


@dataclasses.dataclass(frozen=True)
class Dataset:
    record_id: str
    instance_id: str
    bands: tuple[int, ...]
    dformat: DataFormat
    real_min_value: float = 0.0
    real_max_value: float = 1.0
    exponent: float = 1.0
    subdir: str = ""


_DTYPES = {
    "uint8": geocube_pb2.DataFormat.UInt8,
    "uint16": geocube_pb2.DataFormat.UInt16,
    "uint32": geocube_pb2.DataFormat.UInt32,
    "int16": geocube_pb2.DataFormat.Int16,
    "int32": geocube_pb2.DataFormat.Int32,
    "float32": geocube_pb2.DataFormat.Float32,
    "float64": geocube_pb2.DataFormat.Float64,
    "complex64": geocube_pb2.DataFormat.Complex64,
}


def _polygons(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    if isinstance(geometry, (shapely.MultiPolygon, shapely.GeometryCollection)):
        return [p for part in geometry.geoms for p in _polygons(part)]
    return []  # points and lines have no area


def aoi_to_proto(geometry: shapely.Geometry) -> geocube_pb2.AOI:
    """The polygons of a geometry in lon/lat as the Geocube's AOI; rings closed (shapely closes them)."""
    polygons = [p for p in _polygons(geometry) if not p.is_empty]
    if not polygons:
        raise InvalidArgument("geometry", f"a Geocube AOI needs polygons, got {geometry.geom_type}")
    aoi = geocube_pb2.AOI()
    for polygon in polygons:
        rings = aoi.polygons.add()
        for ring in [polygon.exterior, *polygon.interiors]:
            rings.linearrings.add().points.extend(geocube_pb2.Coord(lon=x, lat=y) for x, y, *_ in ring.coords)
    return aoi


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _record(message: geocube_pb2.Record) -> Record:
    return Record(
        id=message.id,
        name=message.name,
        time=message.time.ToDatetime(tzinfo=dt.UTC),
        tags=dict(message.tags),
        aoi_id=message.aoi_id,
    )


def _existing_resource(exc: grpc.aio.AioRpcError) -> str:
    """The id an ALREADY_EXISTS answer names in its google.rpc.ResourceInfo detail ("" if none)."""
    status = rpc_status.from_call(exc)  # AioRpcError has the same accessors as the Call it expects
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ResourceInfo()
        if detail.Unpack(info):
            return info.resource_name
    return ""


def open_channel(settings: GeocubeSettings) -> grpc.aio.Channel:
    if settings.geocube_insecure:
        return grpc.aio.insecure_channel(settings.geocube_server, options=CHANNEL_OPTIONS)
    roots = pathlib.Path(settings.geocube_ca_file).read_bytes() if settings.geocube_ca_file else None
    return grpc.aio.secure_channel(
        settings.geocube_server,
        grpc.ssl_channel_credentials(root_certificates=roots),
        options=CHANNEL_OPTIONS,
    )


class GeocubeClient:
    """One channel to a Geocube server. The token travels as call metadata, which works over TLS and
    plain text alike (gRPC's call credentials refuse insecure channels; the Go client does not)."""

    def __init__(self, channel: grpc.aio.Channel, token: str = "", timeout: float = 30.0):
        self._channel = channel
        self._stub = geocube_pb2_grpc.GeocubeStub(channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout

    @classmethod
    def connect(cls, settings: GeocubeSettings) -> GeocubeClient:
        return cls(open_channel(settings), settings.geocube_token, settings.geocube_timeout)

    async def close(self) -> None:
        await self._channel.close()

    def _error(self, method: str, exc: grpc.aio.AioRpcError) -> GeocubeError:
        return GeocubeError(method, exc.code(), exc.details() or "")

    async def get_variable(self, *, name: str = "", instance_id: str = "") -> Variable | None:
        """The variable of that name, or owning that instance; None when the Geocube knows none."""
        request = (
            geocube_pb2.GetVariableRequest(instance_id=instance_id)
            if instance_id
            else (geocube_pb2.GetVariableRequest(name=name))
        )
        try:
            response = await self._stub.GetVariable(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._error("GetVariable", exc) from exc
        variable = response.variable
        return Variable(variable.id, variable.name, {i.name: i.id for i in variable.instances})

    async def list_variables(self, name: str = "") -> list[Variable]:
        request = geocube_pb2.ListVariablesRequest(name=name)
        try:
            call = self._stub.ListVariables(request, timeout=self._timeout, metadata=self._metadata)
            return [
                Variable(
                    item.variable.id, item.variable.name, {i.name: i.id for i in item.variable.instances}
                )
                async for item in call
            ]
        except grpc.aio.AioRpcError as exc:
            raise self._error("ListVariables", exc) from exc

    async def list_records(
        self,
        *,
        name: str = "",
        tags: dict[str, str] | None = None,
        aoi: shapely.Geometry | None = None,
        from_time: dt.datetime | None = None,
        to_time: dt.datetime | None = None,
    ) -> list[Record]:
        request = geocube_pb2.ListRecordsRequest(name=name, tags=tags or {})
        if aoi is not None:
            request.aoi.CopyFrom(aoi_to_proto(aoi))
        if from_time is not None:
            request.from_time.CopyFrom(_timestamp(from_time))
        if to_time is not None:
            request.to_time.CopyFrom(_timestamp(to_time))
        try:
            call = self._stub.ListRecords(request, timeout=self._timeout, metadata=self._metadata)
            return [_record(item.record) async for item in call]
        except grpc.aio.AioRpcError as exc:
            raise self._error("ListRecords", exc) from exc

    async def create_aoi(self, geometry: shapely.Geometry) -> str:
        """The AOI's id, new or, when the Geocube already has this geometry, the existing one."""
        request = geocube_pb2.CreateAOIRequest(aoi=aoi_to_proto(geometry))
        try:
            response = await self._stub.CreateAOI(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS and (existing := _existing_resource(exc)):
                return existing
            raise self._error("CreateAOI", exc) from exc
        return response.id

    async def create_records(self, records: Sequence[NewRecord]) -> list[str]:
        """The new records' ids, in the order given."""
        request = geocube_pb2.CreateRecordsRequest(
            records=[
                geocube_pb2.NewRecord(name=r.name, time=_timestamp(r.time), tags=r.tags, aoi_id=r.aoi_id)
                for r in records
            ]
        )
        try:
            response = await self._stub.CreateRecords(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise self._error("CreateRecords", exc) from exc
        if len(response.ids) != len(records):
            raise GeocubeError(
                "CreateRecords",
                grpc.StatusCode.INTERNAL,
                f"{len(response.ids)} ids for {len(records)} records",
            )
        return list(response.ids)

    async def delete_records(self, ids: Iterable[str]) -> int:
        request = geocube_pb2.DeleteRecordsRequest(ids=list(ids))
        try:
            response = await self._stub.DeleteRecords(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise self._error("DeleteRecords", exc) from exc
        return int(response.nb)

    async def add_records_tags(self, ids: Iterable[str], tags: dict[str, str]) -> int:
        request = geocube_pb2.AddRecordsTagsRequest(ids=list(ids), tags=tags)
        try:
            response = await self._stub.AddRecordsTags(
                request, timeout=self._timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise self._error("AddRecordsTags", exc) from exc
        return int(response.nb)

    async def index_datasets(self, uri: str, datasets: Sequence[Dataset], managed: bool = True) -> bool:
        """Indexes the datasets of the container (file) at `uri`: True, or False when the Geocube already
        has that container (a redo of the task; the reference only warns)."""
        container = geocube_pb2.Container(uri=uri, managed=managed)
        for d in datasets:
            container.datasets.add(
                record_id=d.record_id,
                instance_id=d.instance_id,
                container_subdir=d.subdir,
                bands=list(d.bands),
                dformat=geocube_pb2.DataFormat(
                    dtype=_DTYPES.get(d.dformat.dtype, geocube_pb2.DataFormat.UNDEFINED),
                    no_data=d.dformat.no_data,
                    min_value=d.dformat.min_value,
                    max_value=d.dformat.max_value,
                ),
                real_min_value=d.real_min_value,
                real_max_value=d.real_max_value,
                exponent=d.exponent,
            )
        request = geocube_pb2.IndexDatasetsRequest(container=container)
        try:
            await self._stub.IndexDatasets(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return False
            raise self._error("IndexDatasets", exc) from exc
        return True
