"""Path and query parameters of the workflow endpoints, read as the reference reads them (spec §1.2,
§4.3)."""

from __future__ import annotations

import re

from gateway.errors import GatewayError
from gateway.refjson.views import STATUS_BY_NAME
from gateway.routing import Call
from protos.ingester.v1 import types_pb2

_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 1 << 63
_INT32 = 1 << 31
_STATUS_BY_LOWER = {name.lower(): value for name, value in STATUS_BY_NAME.items()}


def path_id(call: Call, name: str) -> int:
    """`{scene}` / `{tile}` as Go's strconv.Atoi reads them; 400 with an empty body otherwise."""
    raw = call.params[name]
    if not _GO_INT.fullmatch(raw) or not -_INT64 <= int(raw) < _INT64:
        raise GatewayError(400)
    return int(raw)


def paging(call: Call) -> tuple[int, int]:
    """`page` (default 0) and `limit` (default -1, no limit); values that are not integers are ignored."""
    values = {"page": 0, "limit": -1}
    for name in values:
        raw = call.request.query_params.get(name, "")
        if _GO_INT.fullmatch(raw):
            # Clamped to the contract's int32: a limit that large means "no limit" anyway.
            values[name] = max(-_INT32, min(int(raw), _INT32 - 1))
    return values["page"], values["limit"]


def list_status(call: Call) -> types_pb2.Status | None:
    """The `{status}` filter of the list endpoints: UNSPECIFIED without one; None when it can match
    nothing, because the reference compares it verbatim with the stored uppercase names (`done` -> [])."""
    name = call.params.get("status")
    if name is None:
        return types_pb2.STATUS_UNSPECIFIED
    return STATUS_BY_NAME.get(name)


def forced_status(call: Call) -> types_pb2.Status:
    """The `{status}` of the force endpoints: a status name in any case (Go's enumer parser); the
    reference answers 500 `<s> does not belong to Status values`, here 400 with that text."""
    name: str = call.params["status"]
    status = STATUS_BY_NAME.get(name) or _STATUS_BY_LOWER.get(name.lower())
    if status is None:
        raise GatewayError(400, f"{name} does not belong to Status values")
    return status
