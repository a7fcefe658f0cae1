"""`/registry/*`: our own JSON API over the Registry service (the reference has none; see docs/api.md).

Bodies are strict JSON objects (exact keys, unknown keys refused) so that a typo is an error rather than
a silently ignored field.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import Response

from gateway import forms, inputs, responses
from gateway.errors import GatewayError
from gateway.refjson import fields, gojson
from gateway.refjson.fields import DecodeError
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import registry_pb2

_MAX_BODY = 1024 * 1024


async def _body(call: Call, allowed: set[str]) -> fields.JsonObject:
    raw = (await forms.read_body(call.request, _MAX_BODY)).decode("utf-8", errors="replace")
    try:
        doc = fields.loads(raw)
    except ValueError as exc:
        raise GatewayError(400, f"invalid JSON body: {exc}") from None
    if not isinstance(doc, fields.JsonObject):
        raise GatewayError(400, f"invalid JSON body: expected an object, got {fields.kind(doc)}")
    for key, _ in doc.pairs:
        if key not in allowed:
            raise GatewayError(
                400, f"field '{key}': unknown field (expected one of {', '.join(sorted(allowed))})"
            )
    return doc


def _time(message: Any, field: str) -> str:
    return gojson.format_time(getattr(message, field) if message.HasField(field) else None)


def instance_json(instance: registry_pb2.Instance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "variable_id": instance.variable_id,
        "name": instance.name,
        "metadata": dict(sorted(instance.metadata.items())),
    }


def variable_json(variable: registry_pb2.Variable) -> dict[str, Any]:
    return {
        "id": variable.id,
        "name": variable.name,
        "unit": variable.unit,
        "description": variable.description,
        "dtype": variable.dtype,
        "instances": [instance_json(i) for i in variable.instances],
    }


def record_json(record: registry_pb2.Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "time": _time(record, "time"),
        "tags": dict(sorted(record.tags.items())),
        "aoi_wkt": record.aoi_wkt,
    }


def _finite(value: float) -> float | None:
    # JSON has no NaN or infinity (a float no-data value is often NaN): those print as null.
    return value if math.isfinite(value) else None


def dataset_json(dataset: registry_pb2.Dataset) -> dict[str, Any]:
    dformat = dataset.dformat
    return {
        "id": dataset.id,
        "record_id": dataset.record_id,
        "instance_id": dataset.instance_id,
        "uri": dataset.uri,
        "subdir": dataset.subdir,
        "bands": list(dataset.bands),
        "dformat": {
            "dtype": dformat.dtype,
            "no_data": _finite(dformat.no_data),
            "min_value": _finite(dformat.min_value),
            "max_value": _finite(dformat.max_value),
        },
        "real_min_value": _finite(dataset.real_min_value),
        "real_max_value": _finite(dataset.real_max_value),
        "exponent": _finite(dataset.exponent),
        "created": _time(dataset, "created"),
    }


def _answer(value: Any, status: int = 200) -> Response:
    return responses.json_body(gojson.encoder_line(value), status)


async def create_variable(call: Call) -> Response:
    doc = await _body(call, {"name", "unit", "description", "dtype"})
    try:
        request = registry_pb2.CreateVariableRequest(
            **{key: fields.string(doc.get(key), key) for key in ("name", "unit", "description", "dtype")}
        )
        for key in ("name", "unit", "dtype"):
            inputs.name(getattr(request, key), key)
    except (DecodeError, inputs.Refused) as exc:
        raise GatewayError(400, str(exc)) from None
    variable = await call.rpc(call.gateway.client.registry.CreateVariable, request)
    return _answer(variable_json(variable), 201)


async def list_variables(call: Call) -> Response:
    request = registry_pb2.ListVariablesRequest(name=call.request.query_params.get("name", ""))
    answer = await call.rpc(call.gateway.client.registry.ListVariables, request)
    return _answer([variable_json(v) for v in answer.variables])


async def create_instance(call: Call) -> Response:
    doc = await _body(call, {"name", "metadata"})
    try:
        request = registry_pb2.CreateInstanceRequest(
            variable=call.params["variable"],
            name=inputs.name(fields.string(doc.get("name"), "name"), "name"),
            metadata=fields.string_map(doc.get("metadata"), "metadata") or {},
        )
    except (DecodeError, inputs.Refused) as exc:
        raise GatewayError(400, str(exc)) from None
    instance = await call.rpc(call.gateway.client.registry.CreateInstance, request)
    return _answer(instance_json(instance), 201)


async def list_records(call: Call) -> Response:
    query = call.request.query_params
    tags = {}
    for tag in query.getlist("tag"):
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise GatewayError(400, f"query parameter 'tag': expected key=value, got {tag!r}")
        tags[key] = value
    limit_text = query.get("limit", "0")
    if not limit_text.lstrip("-").isdigit() or not -(1 << 31) <= int(limit_text) < (1 << 31):
        raise GatewayError(400, f"query parameter 'limit': expected an integer, got {limit_text!r}")
    request = registry_pb2.ListRecordsRequest(name=query.get("name", ""), tags=tags, limit=int(limit_text))
    answer = await call.rpc(call.gateway.client.registry.ListRecords, request)
    return _answer([record_json(r) for r in answer.records])


async def list_datasets(call: Call) -> Response:
    query = call.request.query_params
    request = registry_pb2.ListDatasetsRequest(
        record_id=query.get("record_id", ""), instance_id=query.get("instance_id", "")
    )
    answer = await call.rpc(call.gateway.client.registry.ListDatasets, request)
    return _answer([dataset_json(d) for d in answer.datasets])


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/registry/variables", {"GET": list_variables, "POST": create_variable}, gateway),
        GoRoute("/registry/variables/{variable}/instances", {"POST": create_instance}, gateway),
        GoRoute("/registry/records", {"GET": list_records}, gateway),
        GoRoute("/registry/datasets", {"GET": list_datasets}, gateway),
    ]
