"""A Geocube server on loopback for the tests: the subset of the Geocube's gRPC API the ingester calls
(protos/geocube/v1/geocube.proto, wire-compatible with airbusgeo/geocube), kept in memory.

It is a test peer speaking the real protocol, with the real server's answers where the ingester depends
on them: NOT_FOUND for an unknown variable, ALREADY_EXISTS with a google.rpc.ResourceInfo detail for a
known AOI, ALREADY_EXISTS for a container indexed twice, records with datasets kept by DeleteRecords.
`stop()` then `start()` brings it down and back on the same port, with its data (an outage)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import fnmatch
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import shapely
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from protos.geocube.v1 import geocube_pb2, geocube_pb2_grpc


@dataclasses.dataclass
class StoredRecord:
    id: str
    name: str
    time: dt.datetime
    tags: dict[str, str]
    aoi_id: str


def _geometry(aoi: geocube_pb2.AOI) -> shapely.MultiPolygon:
    polygons = []
    for polygon in aoi.polygons:
        rings = [[(p.lon, p.lat) for p in ring.points] for ring in polygon.linearrings]
        polygons.append(shapely.Polygon(rings[0], rings[1:]))
    return shapely.MultiPolygon(polygons)


class FakeGeocube(geocube_pb2_grpc.GeocubeServicer):
    def __init__(self, token: str = "", tls: tuple[bytes, bytes] | None = None):
        self.token = token
        self.tls = tls  # (private key PEM, certificate chain PEM): serve TLS
        self.variables: dict[str, geocube_pb2.Variable] = {}  # by id
        self.aois: dict[str, shapely.Geometry] = {}
        self.records: dict[str, StoredRecord] = {}
        self.containers: dict[str, geocube_pb2.Container] = {}  # by uri
        self.calls: collections.Counter[str] = collections.Counter()
        # Test control: a call of a method named here sets `arrived[method]`, then waits for the gate.
        self.gates: dict[str, asyncio.Event] = {}
        self.arrived: dict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Serves on the port of the previous start (a restart after an outage), or a free one."""
        server = grpc.aio.server()
        geocube_pb2_grpc.add_GeocubeServicer_to_server(self, server)
        if self.tls is not None:
            credentials = grpc.ssl_server_credentials([self.tls])
            self.port = server.add_secure_port(f"127.0.0.1:{self.port}", credentials)
        else:
            self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None

    # --- test set-up -----------------------------------------------------------------------------
    def add_variable(
        self,
        name: str,
        instances: list[str],
        dtype: geocube_pb2.DataFormat.Dtype = geocube_pb2.DataFormat.UInt16,
    ) -> str:
        variable = geocube_pb2.Variable(
            id=str(uuid.uuid4()), name=name, dformat=geocube_pb2.DataFormat(dtype=dtype, max_value=65535)
        )
        for instance in instances:
            variable.instances.add(id=str(uuid.uuid4()), name=instance)
        self.variables[variable.id] = variable
        return variable.id

    def instance_id(self, variable: str, instance: str) -> str:
        (found,) = [
            i.id
            for v in self.variables.values()
            if v.name == variable
            for i in v.instances
            if i.name == instance
        ]
        return found

    # --- the API ---------------------------------------------------------------------------------
    async def _enter(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.calls[method] += 1
        if method in self.gates:
            self.arrived[method].set()
            await asyncio.wait_for(self.gates[method].wait(), 60)
        if self.token:
            metadata = dict(context.invocation_metadata() or ())
            if metadata.get("authorization") != f"Bearer {self.token}":
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    async def GetVariable(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._enter("GetVariable", context)
        which = request.WhichOneof("identifier")
        for variable in self.variables.values():
            if (
                (which == "id" and variable.id == request.id)
                or (which == "name" and variable.name == request.name)
                or (which == "instance_id" and any(i.id == request.instance_id for i in variable.instances))
            ):
                return geocube_pb2.GetVariableResponse(variable=variable)
        await context.abort(
            grpc.StatusCode.NOT_FOUND, f"variable {getattr(request, which or 'id')} not found"
        )

    async def ListVariables(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await self._enter("ListVariables", context)
        for variable in sorted(self.variables.values(), key=lambda v: v.name):
            if fnmatch.fnmatchcase(variable.name, request.name or "*"):
                yield geocube_pb2.ListVariablesResponseItem(variable=variable)

    async def CreateAOI(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._enter("CreateAOI", context)
        geometry = _geometry(request.aoi)
        if geometry.is_empty or not geometry.is_valid:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid AOI")
        for aoi_id, known in self.aois.items():
            if known.equals(geometry):
                detail = any_pb2.Any()
                detail.Pack(error_details_pb2.ResourceInfo(resource_type="AOI", resource_name=aoi_id))
                status = rpc_status.to_status(
                    status_pb2.Status(
                        code=code_pb2.ALREADY_EXISTS, message="aoi already exists", details=[detail]
                    )
                )
                await context.abort(status.code, status.details, status.trailing_metadata)
        aoi_id = str(uuid.uuid4())
        self.aois[aoi_id] = geometry
        return geocube_pb2.CreateAOIResponse(id=aoi_id)

    async def CreateRecords(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._enter("CreateRecords", context)
        new = []
        for record in request.records:
            if not record.name or not record.HasField("time"):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a record needs a name and a time")
            if record.aoi_id not in self.aois:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"aoi {record.aoi_id} not found")
            new.append(
                StoredRecord(
                    str(uuid.uuid4()),
                    record.name,
                    record.time.ToDatetime(tzinfo=dt.UTC),
                    dict(record.tags),
                    record.aoi_id,
                )
            )
        self.records.update((r.id, r) for r in new)
        return geocube_pb2.CreateRecordsResponse(ids=[r.id for r in new])

    async def ListRecords(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await self._enter("ListRecords", context)
        area = _geometry(request.aoi) if request.HasField("aoi") else None
        low = request.from_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("from_time") else None
        high = request.to_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("to_time") else None
        for record in self.records.values():
            if request.name and record.name != request.name:
                continue
            if any(record.tags.get(k) != v for k, v in request.tags.items()):
                continue
            if (low and record.time < low) or (high and record.time > high):
                continue
            if area is not None and not self.aois[record.aoi_id].intersects(area):
                continue
            message = geocube_pb2.Record(
                id=record.id, name=record.name, tags=record.tags, aoi_id=record.aoi_id
            )
            message.time.FromDatetime(record.time)
            yield geocube_pb2.ListRecordsResponseItem(record=message)

    async def AddRecordsTags(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._enter("AddRecordsTags", context)
        found = [self.records[i] for i in request.ids if i in self.records]
        for record in found:
            record.tags.update(request.tags)
        return geocube_pb2.AddRecordsTagsResponse(nb=len(found))

    async def DeleteRecords(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._enter("DeleteRecords", context)
        used = {d.record_id for c in self.containers.values() for d in c.datasets}
        deleted = [i for i in request.ids if i in self.records and i not in used]
        for record_id in deleted:
            del self.records[record_id]
        return geocube_pb2.DeleteRecordsResponse(nb=len(deleted))

    async def IndexDatasets(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._enter("IndexDatasets", context)
        container = request.container
        if not container.uri or not container.datasets:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a container needs a uri and datasets")
        if container.uri in self.containers:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"container {container.uri} already exists")
        instances = {i.id for v in self.variables.values() for i in v.instances}
        for dataset in container.datasets:
            if dataset.record_id not in self.records:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"record {dataset.record_id} not found")
            if dataset.instance_id not in instances:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"instance {dataset.instance_id} not found")
            if dataset.dformat.dtype == geocube_pb2.DataFormat.UNDEFINED:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "dformat.dtype undefined")
        stored = geocube_pb2.Container()
        stored.CopyFrom(container)
        self.containers[container.uri] = stored
        return geocube_pb2.IndexDatasetsResponse()
