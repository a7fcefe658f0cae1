"""Registry gRPC servicer: variables, instances, records, datasets."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool

from protos.ingester.v1 import registry_pb2, registry_pb2_grpc
from services.catalogue import stac_index
from services.catalogue.store import registry, stac
from libs.domain import proto_convert as pc
from libs.runtime.errors import InvalidArgument

_NAME = re.compile(r"^[a-zA-Z0-9\-:_]+$")
DTYPES = ("uint8", "uint16", "uint32", "int16", "int32", "float32", "float64", "complex64")


def _instance(i: registry.Instance) -> registry_pb2.Instance:
    return registry_pb2.Instance(id=i.id, variable_id=i.variable_id, name=i.name, metadata=i.metadata)


def _variable(v: registry.Variable) -> registry_pb2.Variable:
    return registry_pb2.Variable(
        id=v.id,
        name=v.name,
        unit=v.unit,
        description=v.description,
        dtype=v.dtype,
        instances=[_instance(i) for i in v.instances],
    )


def _dataset(d: registry.Dataset) -> registry_pb2.Dataset:
    out = registry_pb2.Dataset(
        id=d.id,
        record_id=d.record_id,
        instance_id=d.instance_id,
        uri=d.uri,
        subdir=d.subdir,
        bands=d.bands,
        dformat=registry_pb2.DataFormat(
            dtype=d.dtype, no_data=d.no_data, min_value=d.min_value, max_value=d.max_value
        ),
        real_min_value=d.real_min_value,
        real_max_value=d.real_max_value,
        exponent=d.exponent,
    )
    if d.created is not None:
        out.created.FromDatetime(d.created)
    return out


def _check_name(field: str, name: str) -> None:
    if not _NAME.match(name):
        raise InvalidArgument(field, f"must match {_NAME.pattern} (found {name!r})")


class RegistryServicer(registry_pb2_grpc.RegistryServicer):
    def __init__(self, pool: AsyncConnectionPool[Any]):
        self._pool = pool

    async def CreateVariable(
        self, request: registry_pb2.CreateVariableRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.Variable:
        _check_name("name", request.name)
        dtype = (request.dtype or "float32").lower()
        if dtype not in DTYPES:
            raise InvalidArgument("dtype", f"must be one of {', '.join(DTYPES)} (found {request.dtype!r})")
        async with self._pool.connection() as conn:
            return _variable(
                await registry.create_variable(conn, request.name, request.unit, request.description, dtype)
            )

    async def ListVariables(
        self, request: registry_pb2.ListVariablesRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListVariablesResponse:
        async with self._pool.connection() as conn:
            variables = await registry.list_variables(conn, request.name)
        return registry_pb2.ListVariablesResponse(variables=[_variable(v) for v in variables])

    async def CreateInstance(
        self, request: registry_pb2.CreateInstanceRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.Instance:
        _check_name("name", request.name)
        if not request.variable:
            raise InvalidArgument("variable", "required")
        async with self._pool.connection() as conn:
            return _instance(
                await registry.create_instance(conn, request.variable, request.name, dict(request.metadata))
            )

    async def ListRecords(
        self, request: registry_pb2.ListRecordsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListRecordsResponse:
        async with self._pool.connection() as conn:
            records = await registry.list_records(conn, request.name, dict(request.tags), request.limit)
        out = registry_pb2.ListRecordsResponse()
        for r in records:
            msg = out.records.add(id=r.id, name=r.name, tags=r.tags, aoi_wkt=r.aoi_wkt)
            pc.time_to_proto(r.time, msg, "time")  # an undated record's time stays unset
        return out

    async def IndexDatasets(
        self, request: registry_pb2.IndexDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.IndexDatasetsResponse:
        created = existing = 0
        async with self._pool.connection() as conn, conn.transaction():
            for i, d in enumerate(request.datasets):
                if not d.uri:
                    raise InvalidArgument(f"datasets[{i}].uri", "required")
                if d.dformat.dtype.lower() not in DTYPES:
                    raise InvalidArgument(
                        f"datasets[{i}].dformat.dtype", f"must be one of {', '.join(DTYPES)}"
                    )
                new = await registry.index_dataset(
                    conn,
                    registry.Dataset(
                        record_id=d.record_id,
                        instance_id=d.instance_id,
                        uri=d.uri,
                        subdir=d.subdir,
                        bands=list(d.bands) or [1],
                        dtype=d.dformat.dtype.lower(),
                        no_data=d.dformat.no_data,
                        min_value=d.dformat.min_value,
                        max_value=d.dformat.max_value,
                        real_min_value=d.real_min_value,
                        real_max_value=d.real_max_value,
                        exponent=d.exponent or 1.0,
                    ),
                )
                created, existing = created + new, existing + (not new)
        return registry_pb2.IndexDatasetsResponse(created=created, existing=existing)

    async def ListDatasets(
        self, request: registry_pb2.ListDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListDatasetsResponse:
        async with self._pool.connection() as conn:
            datasets = await registry.list_datasets(conn, request.record_id, request.instance_id)
        return registry_pb2.ListDatasetsResponse(datasets=[_dataset(d) for d in datasets])

    async def IndexItems(
        self, request: registry_pb2.IndexItemsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.IndexItemsResponse:
        rows = [
            stac_index.item_row(i, it.collection, it.id, it.record_id, it.item_json, it.catalog_key)
            for i, it in enumerate(request.items)
        ]
        async with self._pool.connection() as conn, conn.transaction():
            revision, stored = await stac.upsert_items(conn, request.catalog_root, rows)
        return registry_pb2.IndexItemsResponse(revision=revision, items_json=[json.dumps(i) for i in stored])

    async def SearchItems(
        self, request: registry_pb2.SearchItemsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.SearchItemsResponse:
        search = stac.Search(
            collections=list(request.collections),
            ids=list(request.ids),
            bbox=stac_index.check_bbox(list(request.bbox), "bbox") if request.bbox else None,
            start=request.start.ToDatetime(dt.UTC) if request.HasField("start") else None,
            end=request.end.ToDatetime(dt.UTC) if request.HasField("end") else None,
            limit=stac_index.limit(request.limit),
            after=stac_index.decode_token(request.token) if request.token else None,
        )
        if request.intersects and request.bbox:
            raise InvalidArgument("intersects", "cannot be combined with bbox")
        within = stac_index.geometry(request.intersects) if request.intersects else None
        async with self._pool.connection() as conn:
            items, more, matched = await stac_index.search(conn, search, within)
        return registry_pb2.SearchItemsResponse(
            items_json=[json.dumps(i) for i in items],
            next_token=stac_index.encode_token(items[-1]) if more else "",
            matched=matched,
        )

    async def ListItemCollections(
        self, request: registry_pb2.ListItemCollectionsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListItemCollectionsResponse:
        async with self._pool.connection() as conn:
            summaries, revision = await stac.list_collections(
                conn, list(request.ids), request.catalog_root, request.with_item_ids
            )
        out = registry_pb2.ListItemCollectionsResponse(revision=revision)
        for s in summaries:
            msg = out.collections.add(id=s.id, bbox=list(s.bbox or ()), item_count=s.item_count)
            msg.start.FromDatetime(s.start)
            msg.end.FromDatetime(s.end)
            for item_id, key in s.items:
                msg.items.add(id=item_id, href=key)
        return out
