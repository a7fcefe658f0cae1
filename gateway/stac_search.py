"""The STAC API's item-search parameters (GET query or POST body) as a SearchItemsRequest.

Errors are GatewayError(400) texts naming the parameter and the reason; the route turns them into the
STAC API's JSON error body.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.errors import GatewayError
from protos.ingester.v1 import registry_pb2

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 10
# Parameters the search understands; any other is refused rather than silently ignored.
POST_FIELDS = frozenset({"bbox", "datetime", "ids", "collections", "limit", "token", "intersects"})
GET_FIELDS = POST_FIELDS


_LIMIT = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only (str.isdigit takes '²'), few enough for int()
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _bad(name: str, reason: str) -> GatewayError:
    return GatewayError(400, f"{name}: {reason}")


def _instant(text: str, name: str) -> dt.datetime:
    # RFC 3339 exactly: Python's ISO parser also takes forms RFC 3339 refuses (`+0100`, `50,5`, `50.Z`).
    if not _RFC3339.fullmatch(text):
        raise _bad(name, f"{text!r} is not an RFC 3339 date-time (e.g. 2022-01-02T10:36:29Z)")
    try:
        value = dt.datetime.fromisoformat(text.upper())
    except ValueError:
        raise _bad(name, f"{text!r} is not a valid date-time") from None
    try:
        # In UTC now: an offset can carry year 1 or 9999 past the range a Timestamp (and Python) holds.
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise _bad(name, f"{text!r} is outside the years 0001 to 9999 (UTC)") from None


def datetime_range(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`instant`, `start/end`, `../end`, `start/..` (an empty side is open too)."""
    if "/" not in text:
        instant = _instant(text, "datetime")
        return instant, instant
    if text.count("/") != 1:
        raise _bad("datetime", f"{text!r}: expected an instant or one interval start/end")
    start_text, end_text = text.split("/")
    start = None if start_text in ("", "..") else _instant(start_text, "datetime")
    end = None if end_text in ("", "..") else _instant(end_text, "datetime")
    if start is None and end is None:
        raise _bad("datetime", "an interval needs at least one bound")
    if start is not None and end is not None and start > end:
        raise _bad("datetime", f"start {start_text} is after end {end_text}")
    return start, end


def _bbox(values: Sequence[Any]) -> list[float]:
    if len(values) not in (4, 6) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise _bad("bbox", "expected 4 (or 6) finite numbers: west,south,east,north")
    return [float(v) for v in values]


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(name, "expected an array of non-empty strings")
    return value


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("limit", f"expected an integer in 1..{MAX_LIMIT}")
    if value < 1:
        raise _bad("limit", f"must be in 1..{MAX_LIMIT} (found {value})")
    # Larger limits are capped, as the STAC API spec allows, so a client asking for "all" still works.
    return min(value, MAX_LIMIT)


def _geometry(value: Any) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise _bad("intersects", "expected a GeoJSON geometry object")
    if "coordinates" not in value and not (value["type"] == "GeometryCollection" and "geometries" in value):
        raise _bad("intersects", "expected a GeoJSON geometry object")
    return json.dumps(value)


def request_from_body(body: Mapping[str, Any], collection: str = "") -> registry_pb2.SearchItemsRequest:
    """The POST /search body (a JSON object already decoded)."""
    unknown = sorted(set(body) - POST_FIELDS)
    if unknown:
        raise _bad(unknown[0], f"unknown parameter (expected one of {', '.join(sorted(POST_FIELDS))})")
    request = registry_pb2.SearchItemsRequest(limit=DEFAULT_LIMIT)
    if collection:
        request.collections.append(collection)
    if body.get("collections") is not None:
        request.collections.extend(_strings(body["collections"], "collections"))
    if body.get("ids") is not None:
        request.ids.extend(_strings(body["ids"], "ids"))
    if body.get("bbox") is not None:
        if not isinstance(body["bbox"], list):
            raise _bad("bbox", "expected an array of 4 (or 6) numbers")
        request.bbox.extend(_bbox(body["bbox"]))
    if body.get("intersects") is not None:
        if request.bbox:
            raise _bad("intersects", "cannot be combined with bbox")
        request.intersects = _geometry(body["intersects"])
    if body.get("datetime") is not None:
        if not isinstance(body["datetime"], str):
            raise _bad("datetime", "expected a string")
        _set_range(request, body["datetime"])
    if body.get("limit") is not None:
        request.limit = _limit(body["limit"])
    if body.get("token") is not None:
        if not isinstance(body["token"], str):
            raise _bad("token", "expected a string")
        request.token = body["token"]
    return request


def _set_range(request: registry_pb2.SearchItemsRequest, text: str) -> None:
    start, end = datetime_range(text)
    if start is not None:
        request.start.FromDatetime(start)
    if end is not None:
        request.end.FromDatetime(end)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def request_from_query(query: Mapping[str, str], collection: str = "") -> registry_pb2.SearchItemsRequest:
    """GET /search (or /collections/{id}/items) query parameters."""
    body: dict[str, Any] = {}
    unknown = sorted(set(query) - GET_FIELDS)
    if unknown:
        raise _bad(unknown[0], f"unknown parameter (expected one of {', '.join(sorted(GET_FIELDS))})")
    for name in ("ids", "collections"):
        if name in query:
            body[name] = _csv(query[name])
    if "bbox" in query:
        try:
            body["bbox"] = [float(v) for v in query["bbox"].split(",")]
        except ValueError:
            raise _bad("bbox", f"{query['bbox']!r}: expected comma-separated numbers") from None
    if "intersects" in query:
        try:
            body["intersects"] = json.loads(query["intersects"])
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            raise _bad("intersects", "expected a GeoJSON geometry (JSON)") from None
    if "datetime" in query:
        body["datetime"] = query["datetime"]
    if "limit" in query:
        text = query["limit"]
        if not _LIMIT.fullmatch(text):
            raise _bad("limit", f"{text[:20]!r}: expected an integer in 1..{MAX_LIMIT}")
        body["limit"] = int(text)
    if "token" in query:
        body["token"] = query["token"]
    return request_from_body(body, collection)
